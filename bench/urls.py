"""The portal's URLs plus ``bench/bare/``: the baseline the webhook is measured against."""

from django.http import HttpResponse, HttpResponseNotAllowed
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from portal.urls import urlpatterns as portal_urlpatterns


@csrf_exempt
def bare(request):
    """What any Django view costs on this server: read the body, answer 202."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    request.body  # noqa: B018 - read it, as the webhook does
    return HttpResponse(status=202)


urlpatterns = [path("bench/bare/", bare, name="bench-bare"), *portal_urlpatterns]
