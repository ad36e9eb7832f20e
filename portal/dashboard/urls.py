from django.urls import path

from portal.dashboard import audit_log, views, worklist

urlpatterns = [
    path("", views.home, name="home"),
    path("worklist/", worklist.worklist, name="worklist"),
    path("worklist/assign/", worklist.bulk_assign, name="worklist-assign"),
    path("institution/audit/", audit_log.audit_log, name="audit-log"),
    path("institution/audit.csv", audit_log.audit_log_csv, name="audit-log-csv"),
]
