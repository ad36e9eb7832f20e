from django.urls import path

from portal.notifications import views

urlpatterns = [
    path("inbox/", views.inbox, name="notification-inbox"),
    path("inbox/<int:pk>/", views.open_notification, name="notification-open"),
    path("inbox/read-all/", views.read_all, name="notification-read-all"),
    path("account/notifications/", views.preferences, name="notification-preferences"),
    path(
        "notifications/unsubscribe/<str:token>/",
        views.unsubscribe,
        name="notifications-unsubscribe",
    ),
]
