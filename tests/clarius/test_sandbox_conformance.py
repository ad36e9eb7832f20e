"""The sandbox answers every recorded endpoint in the shape of the reference's document.

For each fixture in tests/fixtures/clarius/ the sandbox is put in a state where the
endpoint has something to say, asked over HTTP, and its answer compared with the
recording: the same keys at every level and the same JSON types (null, boolean, number,
string, array, object); values differ. The raw-data ``blob`` is JSON inside a string, so
it is compared decoded too. tests/clarius/test_recorded_payloads.py feeds the same
fixtures to the portal's parsers: a sandbox that drifted from the reference fails here,
a parser that did fails there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from clarius_sandbox import catalogue

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clarius"
CARDIAC = next(a["uuid"] for a in catalogue.APPLICATIONS if a["name"] == "Cardiac")


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    raise TypeError(f"not a JSON value: {value!r}")


def shape_differences(expected: Any, actual: Any, where: str = "$") -> list[str]:
    """Where ``actual`` departs from the shape of ``expected`` (empty: the same shape)."""
    if json_type(expected) != json_type(actual):
        return [f"{where}: {json_type(actual)}, the reference has {json_type(expected)}"]
    if isinstance(expected, dict):
        problems = [f"{where}.{k}: missing" for k in expected if k not in actual]
        problems += [f"{where}.{k}: not in the reference" for k in actual if k not in expected]
        for key in expected.keys() & actual.keys():
            problems += shape_differences(expected[key], actual[key], f"{where}.{key}")
        return problems
    if isinstance(expected, list):
        if expected and not actual:
            return [f"{where}: empty, the reference has items (nothing to compare)"]
        # The reference's items share one shape; every item of the answer must have it.
        problems = []
        for i, item in enumerate(expected[1:], 1):
            problems += shape_differences(expected[0], item, f"{where}[{i}] (reference)")
        for i, item in enumerate(actual):
            problems += shape_differences(expected[0], item, f"{where}[{i}]")
        return problems
    return []


def test_the_shape_comparison_sees_keys_types_and_nesting():
    reference = {"a": [{"b": 1, "c": None}], "d": "x"}
    assert shape_differences(reference, {"a": [{"b": 2.5, "c": None}], "d": "y"}) == []
    assert shape_differences(reference, {"a": [{"b": "1", "c": None}], "d": "x"}) == [
        "$.a[0].b: string, the reference has number"
    ]
    assert sorted(shape_differences(reference, {"a": [{"b": 1, "c": None, "e": 0}]})) == [
        "$.a[0].e: not in the reference",
        "$.d: missing",
    ]
    assert shape_differences(reference, {"a": [], "d": "x"}) == [
        "$.a: empty, the reference has items (nothing to compare)"
    ]
    assert shape_differences({"ok": True}, {"ok": 1}) == ["$.ok: number, the reference has boolean"]


def assert_conforms(name: str, answer: Any) -> None:
    problems = shape_differences(recorded(name), answer)
    assert not problems, f"the sandbox departs from {name}:\n" + "\n".join(problems)


def ok(response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def linked_user(sandbox, name: str = "Ann", **kwargs):
    user = sandbox.add_user(name, **kwargs)
    sandbox.state.confirm(user.customer_token)
    return user


# --- §1–§4 ---------------------------------------------------------------------------------


def test_confirmed_tokens(clarius_sandbox, sandbox_api):
    for name in ("Ann", "Bob"):
        linked_user(clarius_sandbox, name)
    answer = ok(sandbox_api.get("services/confirmed-tokens/"))
    assert_conforms("services-confirmed-tokens-page.json", answer)


def test_the_notification(clarius_sandbox, sandbox_api, clarius_webhook_receiver):
    ok(
        sandbox_api.patch(
            "services/settings/", json={"notification_url": clarius_webhook_receiver.url}
        )
    )
    clarius_sandbox.upload_exam(linked_user(clarius_sandbox))
    clarius_sandbox.wait_for_deliveries()
    (received,) = clarius_webhook_receiver.received
    assert_conforms("notification.json", received.json())


def test_the_accessible_exams_page(clarius_sandbox, sandbox_api):
    user = linked_user(clarius_sandbox)
    first = clarius_sandbox.upload_exam(user, notify=False)
    clarius_sandbox.upload_exam(user, exam_uuid=first.exam_uuid, notify=False)  # resubmitted
    answer = ok(sandbox_api.get("exams/accessible/", params={"customer_id": user.customer_token}))
    assert answer["count"] == 2
    assert len({item["exam_uuid"] for item in answer["results"]}) == 1
    assert_conforms("exams-accessible-page.json", answer)


@pytest.mark.parametrize(
    "name, animal, style",
    [
        ("exams-download-requests-data.json", False, "exams"),
        ("exams-download-requests-data-animal.json", True, "bare"),
    ],
)
def test_the_exam_data(clarius_sandbox, sandbox_api, name, animal, style):
    # Every patient field is optional (§4) and the sandbox leaves some out at random;
    # given the recorded patient, it must hand it back as the same object.
    clarius_sandbox.state.download_url_style = style
    patient = recorded(name)["patient"]
    submission = clarius_sandbox.upload_exam(
        linked_user(clarius_sandbox), animal=animal, patient=patient, notify=False
    )
    answer = ok(sandbox_api.get(submission.download_url))
    assert answer["patient"] == patient
    assert_conforms(name, answer)


# --- §5, §6 ---------------------------------------------------------------------------------


def test_the_service_settings(sandbox_api):
    settings = recorded("services-settings.json")
    assert_conforms(
        "services-settings.json", ok(sandbox_api.patch("services/settings/", json=settings))
    )
    assert_conforms("services-settings.json", ok(sandbox_api.get("services/settings/")))


def test_a_notification_record_of_a_failed_call(clarius_sandbox, sandbox_api):
    # The reference's record is a call that failed ("timed out", no response): the
    # sandbox's own failure (a dropped delivery) must be recorded in the same shape.
    ok(sandbox_api.patch("services/settings/", json={"notification_url": "https://example.com"}))
    clarius_sandbox.drop_notifications(1)
    clarius_sandbox.upload_exam(linked_user(clarius_sandbox))
    clarius_sandbox.wait_for_deliveries()
    answer = ok(sandbox_api.get("services/notifications/records/"))
    assert answer["results"][0]["event"]["response"] is None
    assert_conforms("services-notifications-records-page.json", answer)


# --- §8, §9 ---------------------------------------------------------------------------------


def test_the_api_keys(sandbox_api):
    created = ok(sandbox_api.post("services/api-keys/", json={"name": "My new api key"}), 201)
    assert_conforms("services-api-keys-created.json", created)
    listing = ok(sandbox_api.get("services/api-keys/"))
    assert len(listing) == 2
    assert_conforms("services-api-keys.json", listing)


def test_the_exam_applications(sandbox_api):
    assert_conforms("exams-applications.json", ok(sandbox_api.get("exams/applications/")))


def test_the_application_customisations(sandbox_api):
    groups = recorded("services-applications-detail.json")["annotations"]
    path = f"services/applications/{CARDIAC}/"
    assert_conforms(
        "services-applications-detail.json",
        ok(sandbox_api.put(path, json={"annotations": groups})),
    )
    assert_conforms("services-applications-detail.json", ok(sandbox_api.get(path)))
    assert_conforms("services-applications.json", ok(sandbox_api.get("services/applications/")))


# --- §10 Research API -----------------------------------------------------------------------


def test_the_research_token(clarius_sandbox, sandbox_anonymous):
    credentials = {
        "username": clarius_sandbox.research_username,
        "password": clarius_sandbox.research_password,
    }
    answer = ok(sandbox_anonymous.post("token-auth/", json=credentials))
    assert_conforms("research-token-auth.json", answer)


def test_the_raw_data(clarius_sandbox, sandbox_research):
    user = linked_user(clarius_sandbox, research_bundle=True)
    exam_uuid = clarius_sandbox.upload_exam(user, captures=2, videos=0, notify=False).exam_uuid
    answer = ok(sandbox_research.get(f"exams/rawdata/{exam_uuid}/"))
    assert len(answer) == 2
    assert_conforms("research-exams-rawdata.json", answer)
    [reference] = recorded("research-exams-rawdata.json")
    for item in answer:
        problems = shape_differences(json.loads(reference["blob"]), json.loads(item["blob"]))
        assert not problems, "the raw-data blob departs from the reference:\n" + "\n".join(problems)


def test_the_dicom_export(clarius_sandbox, sandbox_research):
    user = linked_user(clarius_sandbox, research_bundle=True)
    exam_uuid = clarius_sandbox.upload_exam(user, captures=1, videos=0, notify=False).exam_uuid
    answer = ok(sandbox_research.post(f"exams/dicom/{exam_uuid}/", json={}))
    assert_conforms("research-exams-dicom.json", answer)


def test_every_fixture_is_checked_against_the_sandbox():
    this_file = Path(__file__).read_text()
    missing = [p.name for p in FIXTURES.glob("*.json") if f'"{p.name}"' not in this_file]
    assert missing == []
