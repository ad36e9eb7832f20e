"""Whatever a destination form or the delivery log's filters are sent (NUL, which
PostgreSQL refuses; lone surrogates and bytes that are not UTF-8; numbers of thousands of
digits; dates at the ends of the calendar), the answer is a page, a redirect or a 400
with the reason, never a 5xx; and nothing unstorable is saved."""

from urllib.parse import quote_from_bytes

import pytest
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from portal.outbound.models import Destination
from portal.text import has_unstorable
from tests.hostile.test_query_filters import value_for
from tests.outbound.conftest import KEY, as_user

pytestmark = pytest.mark.hostile

FORM = [
    "name",
    "option_host",
    "option_port",
    "option_station",
    "option_tls",
    "option_url",
    "send_images",
    "send_report",
    "is_active",
    "secret",
    "clear_secret",
]
FILTERS = ["state", "what", "q", "date_from", "date_to", "after", "before"]


def encoded(names, data) -> str:
    chosen = data.draw(st.lists(st.sampled_from([*names, "unknown"]), max_size=8))
    pairs = [(name, data.draw(value_for(name))) for name in chosen]
    return "&".join(f"{name}={quote_from_bytes(value, safe='')}" for name, value in pairs)


@given(data=st.data())
def test_hostile_destination_forms(client, trio, north_pacs, data):
    as_user(client, trio[0])
    # Examples share the test's database: each starts with north_pacs alone, whatever
    # the last one (a failing one too) left behind.
    Destination.objects.exclude(pk=north_pacs.pk).delete()
    for url in (
        reverse("destination-add", args=[KEY]),
        reverse("destination-edit", args=[north_pacs.pk]),
    ):
        body = encoded(FORM, data)
        response = client.generic(
            "POST", url, body, content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code in (302, 400), (url, body[:300], response.status_code)
    for d in Destination.objects.all():
        assert not has_unstorable(d.name) and not has_unstorable(str(d.options))
    # The add made at most one; the edit changed north_pacs and made none.
    assert Destination.objects.count() <= 2 and Destination.objects.filter(pk=north_pacs.pk)


@given(data=st.data())
def test_hostile_log_filters(client, trio, north_pacs, data):
    as_user(client, trio[0])
    query = encoded(FILTERS, data)
    response = client.get(f"{reverse('destination-detail', args=[north_pacs.pk])}?{query}")
    assert response.status_code in (200, 400), (query[:300], response.status_code)


@given(data=st.data())
def test_hostile_resends(client, trio, north_pacs, data):
    as_user(client, trio[0])
    body = encoded(["transmission", "failed", "back_state", "back_q", "back_date_from"], data)
    response = client.generic(
        "POST",
        reverse("destination-resend", args=[north_pacs.pk]),
        body,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code in (302, 404), (body[:300], response.status_code)
