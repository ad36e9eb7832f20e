from django.urls import path

from portal.api import views

urlpatterns = [
    path("exams/", views.ExamList.as_view(), name="api-exam-list"),
    path("exams/<int:pk>/", views.ExamDetail.as_view(), name="api-exam-detail"),
    path("exams/<int:pk>/captures/", views.ExamCaptures.as_view(), name="api-exam-captures"),
    path("captures/<int:pk>/media", views.CaptureMedia.as_view(), name="api-capture-media"),
]
