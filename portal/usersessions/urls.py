from django.urls import path

from portal.usersessions import views

urlpatterns = [
    path("", views.session_list, name="session-list"),
    path("<int:pk>/end/", views.session_end, name="session-end"),
    path("sign-out-others/", views.sign_out_others, name="session-sign-out-others"),
    path("sign-out-everywhere/", views.sign_out_everywhere, name="session-sign-out-everywhere"),
    path("keep-alive/", views.keep_alive, name="session-keep-alive"),
    path("status/", views.status, name="session-status"),
    path("expired/", views.expired, name="session-expired"),
]
