from django.urls import path

from portal.dashboard import audit_log, views

urlpatterns = [
    path("", views.home, name="home"),
    path("worklist/", views.worklist, name="worklist"),
    path("institution/audit/", audit_log.audit_log, name="audit-log"),
    path("institution/audit.csv", audit_log.audit_log_csv, name="audit-log-csv"),
]
