from django.urls import path

from portal.sso import views

# The names are mozilla-django-oidc's: it reverses them.
urlpatterns = [
    path("start/", views.StartView.as_view(), name="oidc_authentication_init"),
    path("callback/", views.CallbackView.as_view(), name="oidc_authentication_callback"),
    path("logout/", views.LogoutView.as_view(), name="oidc_logout"),
]
