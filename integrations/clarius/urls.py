from django.urls import path

from integrations.clarius import views, webhooks

urlpatterns = [
    path("connect/<str:token>/", views.connect, name="clarius-connect"),
    path("link/", views.link, name="clarius-link"),
    path("links/", views.my_links, name="clarius-my-links"),
    path("links/<int:pk>/unlink/", views.unlink_mine, name="clarius-unlink"),
    path("institution-links/", views.institution_links, name="clarius-institution-links"),
    path(
        "institution-links/<int:pk>/unlink/",
        views.unlink_in_institution,
        name="clarius-institution-unlink",
    ),
    path("notifications/<str:secret>/", webhooks.notification, name="clarius-notifications"),
]
