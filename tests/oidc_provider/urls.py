import json

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.models import User
from django.http import HttpResponseForbidden, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import get_application_model

from tests.oidc_provider.people.models import Claims


@csrf_exempt
def people(request):
    """POST {"username", "password", "claims"}: the person, made or replaced."""
    if request.headers.get("X-Test-Token") != settings.TEST_TOKEN:
        return HttpResponseForbidden()
    data = json.loads(request.body)
    User.objects.filter(username=data["username"]).delete()
    user = User.objects.create_user(data["username"], password=data["password"])
    Claims.objects.create(user=user, data=data.get("claims", {}))
    return JsonResponse({"sub": str(user.pk)})


@csrf_exempt
def client(request):
    """POST {"redirect_uris", "post_logout_redirect_uris"}: the portal's registration."""
    if request.headers.get("X-Test-Token") != settings.TEST_TOKEN:
        return HttpResponseForbidden()
    data = json.loads(request.body)
    Application = get_application_model()
    Application.objects.filter(client_id="portal").update(
        redirect_uris=data["redirect_uris"],
        post_logout_redirect_uris=data["post_logout_redirect_uris"],
    )
    return JsonResponse({"ok": True})


urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("test/people/", people),
    path("test/client/", client),
]
