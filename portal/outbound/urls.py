"""The administrators' destination pages, under /institution/destinations/."""

from django.urls import path

from portal.outbound import views

urlpatterns = [
    path("", views.destination_list, name="destination-list"),
    path("add/<slug:kind>/", views.destination_add, name="destination-add"),
    path("<int:pk>/", views.destination_detail, name="destination-detail"),
    path("<int:pk>/edit/", views.destination_edit, name="destination-edit"),
    path("<int:pk>/test/", views.destination_test, name="destination-test"),
    path("<int:pk>/active/", views.destination_active, name="destination-active"),
    path("<int:pk>/remove/", views.destination_remove, name="destination-remove"),
    path("<int:pk>/resend/", views.destination_resend, name="destination-resend"),
]
