"""Sandbox §1–§4: customer confirmation, confirmed tokens, accessible exams, exam data."""

import hashlib
from urllib.parse import parse_qs, urlsplit

import requests

from clarius_sandbox import Sandbox
from clarius_sandbox.patients import EXTRA_FIELDS

HUMAN_FIELDS = {"identifier", "date_of_birth", "gender", "first_name", "middle_name", "last_name"}
ANIMAL_FIELDS = {
    "identifier",
    "date_of_birth",
    "gender",
    "animal_name",
    "animal_type",
    "owner_name",
}


def linked(sandbox, name="Ann", **kwargs):
    user = sandbox.add_user(name, **kwargs)
    sandbox.state.confirm(user.customer_token)
    return user


# --- §1 customer confirmation and confirmed tokens ------------------------------------


def test_it_confirms_a_known_customer_token(clarius_sandbox, sandbox_api):
    user = clarius_sandbox.add_user("Ann")
    assert len(user.customer_token) == 43
    r = sandbox_api.post("services/customer-confirmations/", json={"token": user.customer_token})
    assert r.status_code == 200
    assert clarius_sandbox.state.user(user).confirmed
    again = sandbox_api.post(
        "services/customer-confirmations/", json={"token": user.customer_token}
    )
    assert again.status_code == 200


def test_an_unknown_customer_token_is_404(sandbox_api):
    r = sandbox_api.post("services/customer-confirmations/", json={"token": "x" * 43})
    assert r.status_code == 404
    assert "detail" in r.json()


def test_a_confirmation_without_a_token_is_400(sandbox_api):
    r = sandbox_api.post("services/customer-confirmations/", json={})
    assert r.status_code == 400
    assert r.json() == {"token": ["This field is required."]}


def test_a_confirmation_with_broken_json_is_400(sandbox_api):
    r = sandbox_api.post(
        "services/customer-confirmations/",
        data=b'{"token": "abc",}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json()["detail"].startswith("JSON parse error")


def test_confirmed_tokens_are_plain_strings_in_confirmation_order(clarius_sandbox, sandbox_api):
    ann, bob = linked(clarius_sandbox, "Ann"), linked(clarius_sandbox, "Bob")
    clarius_sandbox.add_user("Carol")  # never confirmed
    body = sandbox_api.get("services/confirmed-tokens/").json()
    assert body == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [ann.customer_token, bob.customer_token],
    }


def test_confirmed_tokens_page_with_limit_and_offset(clarius_sandbox, sandbox_api):
    tokens = [linked(clarius_sandbox, f"U{i}").customer_token for i in range(5)]
    page = sandbox_api.get("services/confirmed-tokens/?limit=2").json()
    seen = list(page["results"])
    while page["next"]:
        page = sandbox_api.get(page["next"]).json()
        seen += page["results"]
    assert seen == tokens


# --- §3 accessible exams -------------------------------------------------------------------


def test_only_exams_of_confirmed_customers_are_accessible(clarius_sandbox, sandbox_api):
    ann = clarius_sandbox.add_user("Ann")
    submission = clarius_sandbox.upload_exam(ann, notify=False)
    assert sandbox_api.get("exams/accessible/").json()["count"] == 0
    clarius_sandbox.state.confirm(ann.customer_token)
    body = sandbox_api.get("exams/accessible/").json()
    assert body["results"] == [submission.notification_payload()]
    assert set(body["results"][0]) == {
        "request_uuid",
        "exam_uuid",
        "customer_id",
        "download_url",
        "submitted_at",
    }
    assert body["results"][0]["submitted_at"].endswith("Z")


def test_accessible_exams_page_with_absolute_links(clarius_sandbox, sandbox_api):
    ann = linked(clarius_sandbox)
    uploads = [clarius_sandbox.upload_exam(ann, notify=False) for _ in range(7)]
    first = sandbox_api.get("exams/accessible/?limit=3").json()
    assert first["count"] == 7
    assert first["previous"] is None
    assert first["next"].startswith(clarius_sandbox.api_url + "exams/accessible/?")
    assert parse_qs(urlsplit(first["next"]).query) == {"limit": ["3"], "offset": ["3"]}
    second = sandbox_api.get(first["next"]).json()
    third = sandbox_api.get(second["next"]).json()
    assert third["next"] is None
    # Back from the second page to the first drops offset, as DRF does.
    assert parse_qs(urlsplit(second["previous"]).query) == {"limit": ["3"]}
    seen = [r["request_uuid"] for page in (first, second, third) for r in page["results"]]
    assert seen == [u.request_uuid for u in uploads]


def test_accessible_exams_default_to_100_per_page(clarius_sandbox, sandbox_api):
    ann = linked(clarius_sandbox)
    for _ in range(101):
        clarius_sandbox.state.submit_exam(ann, captures=0, videos=0)
    page = sandbox_api.get("exams/accessible/").json()
    assert len(page["results"]) == 100
    assert page["next"] is not None


def test_a_bad_limit_falls_back_to_the_default(clarius_sandbox, sandbox_api):
    clarius_sandbox.upload_exam(linked(clarius_sandbox), notify=False)
    for query in ("limit=abc", "limit=-1", "limit=0&offset=-5"):
        page = sandbox_api.get(f"exams/accessible/?{query}").json()
        assert page["count"] == len(page["results"]) == 1


def test_accessible_exams_filter_by_customer_id(clarius_sandbox, sandbox_api):
    ann, bob = linked(clarius_sandbox, "Ann"), linked(clarius_sandbox, "Bob")
    clarius_sandbox.upload_exam(ann, notify=False)
    bobs = clarius_sandbox.upload_exam(bob, notify=False)
    body = sandbox_api.get("exams/accessible/", params={"customer_id": bob.customer_token}).json()
    assert [r["request_uuid"] for r in body["results"]] == [bobs.request_uuid]


# --- §4 exam data ------------------------------------------------------------------------------


def test_exam_data_lists_the_captures_on_the_media_origin(clarius_sandbox, sandbox_api):
    submission = clarius_sandbox.upload_exam(linked(clarius_sandbox), captures=2, videos=1)
    assert submission.download_url.endswith(
        f"/api/public/v0/exams/download-requests/{submission.request_uuid}/data/"
    )
    body = sandbox_api.get(submission.download_url).json()
    assert body["request_uuid"] == submission.request_uuid
    assert len(body["captures"]) == 3
    for capture in body["captures"]:
        assert capture["url"].startswith(clarius_sandbox.media_origin + "/")
    assert clarius_sandbox.media_origin != clarius_sandbox.api_origin


def test_exam_data_answers_on_both_vendor_url_forms(clarius_sandbox, sandbox_api):
    submission = clarius_sandbox.upload_exam(linked(clarius_sandbox), notify=False)
    bare = f"download-requests/{submission.request_uuid}/data/"
    assert sandbox_api.get(bare).json()["request_uuid"] == submission.request_uuid
    clarius_sandbox.state.download_url_style = "bare"
    later = clarius_sandbox.upload_exam(linked(clarius_sandbox, "Bob"), notify=False)
    assert later.download_url == clarius_sandbox.api_url + (
        f"download-requests/{later.request_uuid}/data/"
    )


def test_exam_data_mints_fresh_links_on_every_call(clarius_sandbox, sandbox_api):
    submission = clarius_sandbox.upload_exam(linked(clarius_sandbox), captures=1, videos=0)
    clarius_sandbox.state.capture_link_ttl = 100
    first = sandbox_api.get(submission.download_url).json()["captures"][0]["url"]
    clarius_sandbox.state.capture_link_ttl = 200
    second = sandbox_api.get(submission.download_url).json()["captures"][0]["url"]
    assert first != second
    assert first.split("?")[0] == second.split("?")[0]


def test_unknown_exam_data_is_404(sandbox_api):
    r = sandbox_api.get("exams/download-requests/6b0f6a4e-0000-4000-8000-000000000000/data/")
    assert r.status_code == 404


def test_patients_vary_in_shape_but_only_use_known_or_extra_fields(clarius_sandbox, sandbox_api):
    user = linked(clarius_sandbox)
    shapes = set()
    for animal in (False, True) * 15:
        submission = clarius_sandbox.state.submit_exam(user, captures=0, videos=0, animal=animal)
        patient = sandbox_api.get(submission.download_url).json()["patient"]
        allowed = (ANIMAL_FIELDS if animal else HUMAN_FIELDS) | set(EXTRA_FIELDS)
        assert set(patient) <= allowed
        shapes.add(frozenset(patient))
    assert len(shapes) > 3  # fields really do come and go


def test_a_resubmission_is_a_new_request_for_the_same_exam(clarius_sandbox, sandbox_api):
    user = linked(clarius_sandbox)
    first = clarius_sandbox.upload_exam(user, captures=2, videos=0, notify=False)
    second = clarius_sandbox.upload_exam(
        user, captures=1, videos=0, exam_uuid=first.exam_uuid, notify=False
    )
    assert second.exam_uuid == first.exam_uuid
    assert second.request_uuid != first.request_uuid
    assert len(sandbox_api.get(first.download_url).json()["captures"]) == 2
    assert len(sandbox_api.get(second.download_url).json()["captures"]) == 3
    accessible = sandbox_api.get("exams/accessible/").json()["results"]
    assert [r["exam_uuid"] for r in accessible] == [first.exam_uuid] * 2


def test_a_chosen_exam_uuid_and_patient_are_kept(clarius_sandbox, sandbox_api):
    exam_uuid = "418c1f0f-4dd5-4c65-ae68-1fe8eccf46e5"
    submission = clarius_sandbox.upload_exam(
        linked(clarius_sandbox), exam_uuid=exam_uuid, patient={"identifier": "42"}, notify=False
    )
    assert submission.exam_uuid == exam_uuid
    assert sandbox_api.get(submission.download_url).json()["patient"] == {"identifier": "42"}


def test_a_resubmission_sends_the_earlier_captures_again_byte_for_byte(
    clarius_sandbox, sandbox_api
):
    user = linked(clarius_sandbox)
    first = clarius_sandbox.upload_exam(user, captures=1, videos=2, notify=False)
    second = clarius_sandbox.upload_exam(
        user, captures=1, videos=0, exam_uuid=first.exam_uuid, notify=False
    )

    def digests(submission):
        links = sandbox_api.get(submission.download_url).json()["captures"]
        return [
            hashlib.sha256(requests.get(c["url"], timeout=10).content).hexdigest() for c in links
        ]

    before, after = digests(first), digests(second)
    assert after[:3] == before
    # Every capture has bytes of its own, clips included (they share a few pool clips).
    assert len(set(after)) == 4


def test_the_exam_data_names_the_application_only_when_told(clarius_sandbox, sandbox_api):
    user = linked(clarius_sandbox)
    submission = clarius_sandbox.upload_exam(user, captures=0, videos=0, application="Lung")
    assert "application" not in sandbox_api.get(submission.download_url).json()
    clarius_sandbox.state.send_application = True
    assert sandbox_api.get(submission.download_url).json()["application"] == "Lung"
    clarius_sandbox.reset()
    assert clarius_sandbox.state.send_application is False


def test_a_sandbox_started_to_name_applications_keeps_doing_so_after_a_reset():
    sandbox = Sandbox(send_application=True, notification_workers=False)
    assert sandbox.state.send_application is True
    sandbox.reset()
    assert sandbox.state.send_application is True
