from django.urls import path

from portal.dashboard.views import home

urlpatterns = [
    path("", home, name="home"),
]
