"""The portal's URLs plus ``bench/bare/``: the baseline the webhook is measured against."""

from django.db import connection, transaction
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


_table_ready = False


@csrf_exempt
def insert(request):
    """A bare view that also writes the body durably: one INSERT in one transaction.

    The webhook must store what it accepts before answering; this is the least any such
    view costs on the same server and database.
    """
    global _table_ready
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    with connection.cursor() as cursor:
        if not _table_ready:
            cursor.execute("CREATE TABLE IF NOT EXISTS bench_write (id serial, body text)")
            _table_ready = True
        with transaction.atomic():
            cursor.execute("INSERT INTO bench_write (body) VALUES (%s)", [request.body.decode()])
    return HttpResponse(status=202)


urlpatterns = [
    path("bench/bare/", bare, name="bench-bare"),
    path("bench/insert/", insert, name="bench-insert"),
    *portal_urlpatterns,
]
