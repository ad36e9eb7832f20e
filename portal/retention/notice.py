"""What a purged capture's media link answers: 410 Gone, saying when and why.

The capture's row, thumbnail, worksheet and report are kept; only its media is gone,
for good (a 404 would read as a broken link, a 500 as a fault to retry).
"""

from django.http import HttpResponse
from django.utils import timezone

from portal.tenants.timezones import zone_of


def removed_on(capture) -> str:
    """The day the media was removed, in the institution's time zone (2026-12-02)."""
    institution = getattr(capture, "institution", None)
    return timezone.localtime(capture.media_purged_at, zone_of(institution)).date().isoformat()


def removed_message(capture) -> str:
    return (
        "This capture's media was removed by the institution's retention policy on "
        f"{removed_on(capture)}."
    )


def gone_response(capture) -> HttpResponse:
    response = HttpResponse(
        removed_message(capture) + "\n", status=410, content_type="text/plain; charset=utf-8"
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
