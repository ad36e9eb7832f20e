from django.urls import path

from portal.worksheets import views

urlpatterns = [
    path("", views.exam_type_list, name="exam-type-list"),
    path("preview/", views.preview, name="exam-type-preview"),
    path("<int:pk>/edit/", views.exam_type_edit, name="exam-type-edit"),
    path("<int:pk>/versions/<int:version>/", views.exam_type_version, name="exam-type-version"),
    path("<int:pk>/copy/", views.exam_type_copy, name="exam-type-copy"),
    path("<int:pk>/retire/", views.exam_type_retire, name="exam-type-retire"),
    path("<int:pk>/restore/", views.exam_type_restore, name="exam-type-restore"),
]
