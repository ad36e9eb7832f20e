"""Whatever body reaches the notification webhook, the answer is 2xx or 4xx, never 5xx,
and the call is recorded: a 202 writes exactly one receipt and queues its fetch once, a
200 is a duplicate of a request already recorded, a 4xx writes one rejected receipt with
its reason and the body's first bytes exactly as sent.

Bodies: arbitrary bytes, JSON of any shape and depth, keys sent twice, NUL and lone
surrogates (escaped, and raw as invalid UTF-8), numbers no float or column can hold,
notifications with one field of the wrong type or value.
"""

import json
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import event, given
from hypothesis import strategies as st

from integrations.clarius.ingestion.webhooks import REJECTED_BODY_KEPT
from integrations.clarius.models import ClariusLink, NotificationEndpoint, NotificationReceipt
from portal.work.queueing import task_path

pytestmark = pytest.mark.hostile

API = "https://cloud.clarius.com/api/public/v0/"
TOKEN = "eYENW6HO4xdM0KlGO2kBXtTbD5XX1LTfdV-vYslapMY"

characters = st.one_of(
    st.characters(blacklist_categories=()),  # surrogates included
    st.sampled_from('\x00\x1b\x7f\x85\u202e\u2066\ufeff\ud800\udfff"\\[]{}'),
)
text = st.text(alphabet=characters, max_size=40)
numbers = st.sampled_from(
    ["1" * 5000, "-" + "9" * 4301, "1e999", "-1e999", "NaN", "Infinity", "-0", "1E400", "0.5"]
)
json_value = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        text,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)),
    max_leaves=10,
)


def notification(request_uuid, exam_uuid):
    return {
        "request_uuid": str(request_uuid),
        "exam_uuid": str(exam_uuid),
        "customer_id": TOKEN,
        "download_url": f"{API}exams/download-requests/{request_uuid}/data/",
        "submitted_at": "2026-11-27T03:10:47.231755Z",
    }


valid = st.builds(notification, st.uuids(), st.uuids())


@st.composite
def one_field_changed(draw):
    """A notification with one field replaced by any JSON value, or removed."""
    data = draw(valid)
    field = draw(st.sampled_from(sorted(data)))
    if draw(st.booleans()):
        del data[field]
    else:
        data[field] = draw(st.one_of(json_value, text.map(lambda t: data[field] + t)))
    return data


@st.composite
def with_extra_fields(draw):
    return {**draw(valid), **draw(st.dictionaries(text, json_value, max_size=4))}


def encoded(document, draw):
    """JSON text of ``document``: escaped, or raw UTF-8 (raw surrogates make it invalid)."""
    if draw(st.booleans()):
        return json.dumps(document).encode()
    return json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def json_bodies(draw):
    document = draw(st.one_of(json_value, one_field_changed(), with_extra_fields(), valid))
    return encoded(document, draw)


@st.composite
def nested_bodies(draw):
    depth = draw(st.integers(min_value=1, max_value=3000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}"), ('[{"k":', "}]")]))
    inner = draw(st.sampled_from(["1", '"x"', "[]", ""]))
    closed = draw(st.booleans())
    return (opener * depth + inner + (closer * depth if closed else "")).encode()


@st.composite
def duplicate_keys(draw):
    """A notification whose text repeats one of its keys (same or other value)."""
    data = draw(valid)
    key = draw(st.one_of(st.sampled_from(sorted(data)), text))
    if key not in data:
        data[key] = draw(json_value)
    value = draw(st.one_of(st.just(data[key]), json_value))
    body = json.dumps(data)
    where = draw(st.sampled_from(["first", "last"]))
    pair = f"{json.dumps(key)}: {json.dumps(value)}"
    body = "{" + pair + ", " + body[1:] if where == "first" else body[:-1] + ", " + pair + "}"
    return body.encode()


@st.composite
def number_bodies(draw):
    data = draw(valid)
    field = draw(st.sampled_from([*sorted(data), "extra"]))
    body = json.dumps({**data, field: "@@"})
    return body.replace('"@@"', draw(numbers)).encode()


@st.composite
def acceptable_bodies(draw):
    """Notifications that may well be accepted: valid, with unknown fields of any kind."""
    return encoded(draw(st.one_of(valid, with_extra_fields())), draw)


bodies = st.one_of(
    acceptable_bodies(),
    acceptable_bodies(),
    st.binary(max_size=300),
    st.binary(max_size=40).map(lambda b: b"\x00" + b),
    json_bodies(),
    nested_bodies(),
    duplicate_keys(),
    number_bodies(),
)


@pytest.fixture
def webhook(db, monkeypatch, bob, northside):
    endpoint = NotificationEndpoint.objects.create()
    ClariusLink.objects.create(
        token=TOKEN, user=bob, institution=northside, state=ClariusLink.State.CONFIRMED
    )
    queued = []
    monkeypatch.setattr(
        "portal.work.registry.enqueue",
        lambda func, *args: queued.append((task_path(func), args)),
    )
    return reverse("clarius-notifications", args=[endpoint.secret]), queued


@given(body=bodies)
def test_any_body_is_answered_without_a_5xx_and_recorded(webhook, body):
    url, queued = webhook
    before = set(NotificationReceipt.objects.values_list("pk", flat=True))
    queued_before = len(queued)
    response = Client().post(url, body, content_type="application/json")
    assert response.status_code in (200, 202, 400, 413), response.content[:300]
    event(f"HTTP {response.status_code}")
    new = NotificationReceipt.objects.exclude(pk__in=before)
    sent = queued[queued_before:]
    if response.status_code == 202:
        receipt = new.get()
        assert receipt.state == NotificationReceipt.State.PENDING
        assert receipt.body == body
        assert sent == [("integrations.clarius.tasks.fetch_receipt", (receipt.pk,))]
    elif response.status_code == 200:
        assert response.json() == {"status": "duplicate"}
        request_uuid = json.loads(body)["request_uuid"]
        assert NotificationReceipt.objects.filter(request_uuid=uuid.UUID(request_uuid)).exists()
        assert not new.exists() and sent == []
    else:
        receipt = new.get()
        assert receipt.state == NotificationReceipt.State.REJECTED
        assert receipt.rejection_reason and response.json()["reason"]
        assert receipt.body == body[:REJECTED_BODY_KEPT]
        assert receipt.request_uuid is None and sent == []


@given(body=nested_bodies())
def test_nesting_beyond_the_limit_is_a_400_that_says_so(webhook, body):
    url, _ = webhook
    response = Client().post(url, body, content_type="application/json")
    assert response.status_code == 400
    depth = body.count(b"[") + body.count(b"{")
    if depth > 16:
        assert "nested deeper than 16 levels" in response.json()["reason"]


@given(body=duplicate_keys())
def test_a_key_sent_twice_is_always_refused(webhook, body):
    url, queued = webhook
    queued_before = len(queued)
    response = Client().post(url, body, content_type="application/json")
    assert response.status_code == 400
    assert "repeats the key" in response.json()["reason"]
    assert len(queued) == queued_before
