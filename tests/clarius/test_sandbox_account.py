"""Sandbox §5, §7, §8, §9: settings, reports, API keys, applications and annotations."""

import pytest

from clarius_sandbox.catalogue import APPLICATIONS

# --- §5 settings ---------------------------------------------------------------------------


def test_settings_start_empty(sandbox_api):
    assert sandbox_api.get("services/settings/").json() == {
        "notification_url": "",
        "token_transfer_url": "",
    }


def test_it_saves_valid_settings(sandbox_api):
    body = {
        "notification_url": "https://portal.example.com/clarius/notifications/abc/",
        "token_transfer_url": "https://portal.example.com/clarius/connect/{token}/",
    }
    r = sandbox_api.patch("services/settings/", json=body)
    assert r.status_code == 200
    assert r.json() == body
    assert sandbox_api.get("services/settings/").json() == body


def test_a_patch_changes_only_the_fields_it_names(sandbox_api):
    sandbox_api.patch("services/settings/", json={"notification_url": "http://127.0.0.1:8000/n/"})
    sandbox_api.patch(
        "services/settings/", json={"token_transfer_url": "https://e.com?token={token}"}
    )
    assert sandbox_api.get("services/settings/").json() == {
        "notification_url": "http://127.0.0.1:8000/n/",
        "token_transfer_url": "https://e.com?token={token}",
    }


def test_an_empty_string_clears_a_setting(sandbox_api):
    sandbox_api.patch("services/settings/", json={"notification_url": "https://e.com/n"})
    r = sandbox_api.patch("services/settings/", json={"notification_url": ""})
    assert r.json()["notification_url"] == ""


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"notification_url": "not a url"}, "notification_url", "Enter a valid URL."),
        ({"notification_url": "ftp://e.com/x"}, "notification_url", "Enter a valid URL."),
        ({"notification_url": "https://"}, "notification_url", "Enter a valid URL."),
        ({"notification_url": 42}, "notification_url", "Not a valid string."),
        (
            {"token_transfer_url": "https://e.com/connect/"},
            "token_transfer_url",
            "The URL must contain {token}.",
        ),
        ({"token_transfer_url": "nohost/{token}"}, "token_transfer_url", "Enter a valid URL."),
    ],
)
def test_it_refuses_invalid_settings_with_field_errors(sandbox_api, body, field, message):
    r = sandbox_api.patch("services/settings/", json=body)
    assert r.status_code == 400
    assert r.json() == {field: [message]}
    assert sandbox_api.get("services/settings/").json()[field] == ""


def test_one_invalid_field_saves_nothing(sandbox_api):
    r = sandbox_api.patch(
        "services/settings/",
        json={"notification_url": "https://e.com/n", "token_transfer_url": "https://e.com/"},
    )
    assert r.status_code == 400
    assert sandbox_api.get("services/settings/").json()["notification_url"] == ""


# --- §7 reports ------------------------------------------------------------------------------


def test_it_stores_a_report(clarius_sandbox, sandbox_api):
    submission = clarius_sandbox.upload_exam(clarius_sandbox.add_user("Ann"), notify=False)
    r = sandbox_api.post(
        f"services/requests/{submission.request_uuid}/reports/",
        data={"name": "Radiology report"},
        files={"file": ("findings.pdf", b"%PDF-1.7 body", "application/pdf")},
    )
    assert r.status_code == 201
    report = clarius_sandbox.state.requests[submission.request_uuid].reports[0]
    assert (report.name, report.filename, report.content_type, report.data) == (
        "Radiology report",
        "findings.pdf",
        "application/pdf",
        b"%PDF-1.7 body",
    )
    assert report.received_at is not None
    assert r.json()["id"] == report.report_id


def test_several_reports_per_request_are_kept(clarius_sandbox, sandbox_api):
    submission = clarius_sandbox.upload_exam(clarius_sandbox.add_user("Ann"), notify=False)
    for name in ("First", "Second"):
        sandbox_api.post(
            f"services/requests/{submission.request_uuid}/reports/",
            data={"name": name},
            files={"file": ("r.pdf", b"%PDF", "application/pdf")},
        )
    reports = clarius_sandbox.state.requests[submission.request_uuid].reports
    assert [r.name for r in reports] == ["First", "Second"]


@pytest.mark.parametrize(
    ("data", "files", "missing"),
    [
        ({}, {"file": ("r.pdf", b"%PDF", "application/pdf")}, "name"),
        ({"name": "R"}, {"other": ("r.pdf", b"%PDF", "application/pdf")}, "file"),
    ],
)
def test_a_report_missing_a_field_is_400(clarius_sandbox, sandbox_api, data, files, missing):
    submission = clarius_sandbox.upload_exam(clarius_sandbox.add_user("Ann"), notify=False)
    r = sandbox_api.post(
        f"services/requests/{submission.request_uuid}/reports/", data=data, files=files
    )
    assert r.status_code == 400
    assert missing in r.json()
    assert clarius_sandbox.state.requests[submission.request_uuid].reports == []


def test_a_report_that_is_not_multipart_is_refused(clarius_sandbox, sandbox_api):
    submission = clarius_sandbox.upload_exam(clarius_sandbox.add_user("Ann"), notify=False)
    r = sandbox_api.post(
        f"services/requests/{submission.request_uuid}/reports/", json={"name": "R"}
    )
    assert r.status_code == 415


def test_a_report_for_an_unknown_request_is_404(sandbox_api):
    r = sandbox_api.post(
        "services/requests/6b0f6a4e-0000-4000-8000-000000000000/reports/",
        data={"name": "R"},
        files={"file": ("r.pdf", b"%PDF", "application/pdf")},
    )
    assert r.status_code == 404


# --- §8 API keys ---------------------------------------------------------------------------


def test_it_lists_the_onboarding_key_without_its_secret(clarius_sandbox, sandbox_api):
    keys = sandbox_api.get("services/api-keys/").json()
    assert [k["prefix"] for k in keys] == [clarius_sandbox.api_key.split(".")[0]]
    assert set(keys[0]) == {"prefix", "name", "created"}


def test_a_new_key_is_shown_once_and_works(clarius_sandbox, sandbox_api, sandbox_anonymous):
    r = sandbox_api.post("services/api-keys/", json={"name": "My new api key"})
    assert r.status_code == 201
    created = r.json()
    assert set(created) == {"prefix", "name", "created", "key"}
    assert created["key"].startswith(created["prefix"] + ".")
    assert len(created["prefix"]) == 8
    listed = sandbox_api.get("services/api-keys/").json()
    assert {
        "prefix": created["prefix"],
        "name": "My new api key",
        "created": created["created"],
    } in listed
    assert all("key" not in k for k in listed)
    headers = {"Authorization": f"Service-API-Key {created['key']}"}
    assert sandbox_anonymous.get("services/settings/", headers=headers).status_code == 200


def test_a_key_needs_a_name(sandbox_api):
    assert sandbox_api.post("services/api-keys/", json={}).status_code == 400


def test_a_revoked_key_stops_working(clarius_sandbox, sandbox_api, sandbox_anonymous):
    created = sandbox_api.post("services/api-keys/", json={"name": "Rotated"}).json()
    r = sandbox_api.delete(f"services/api-keys/{created['prefix']}/")
    assert r.status_code == 204
    headers = {"Authorization": f"Service-API-Key {created['key']}"}
    assert sandbox_anonymous.get("services/settings/", headers=headers).status_code == 401


def test_the_new_key_can_revoke_the_onboarding_key(clarius_sandbox, sandbox_api, sandbox_anonymous):
    created = sandbox_api.post("services/api-keys/", json={"name": "Rotated"}).json()
    headers = {"Authorization": f"Service-API-Key {created['key']}"}
    onboarding = clarius_sandbox.api_key.split(".")[0]
    r = sandbox_anonymous.delete(f"services/api-keys/{onboarding}/", headers=headers)
    assert r.status_code == 204
    assert sandbox_api.get("services/settings/").status_code == 401
    clarius_sandbox.reset()  # the onboarding key is back
    assert sandbox_api.get("services/settings/").status_code == 200


def test_a_key_cannot_revoke_itself(clarius_sandbox, sandbox_api):
    prefix = clarius_sandbox.api_key.split(".")[0]
    r = sandbox_api.delete(f"services/api-keys/{prefix}/")
    assert r.status_code == 400
    assert "cannot revoke itself" in r.json()["detail"]
    assert sandbox_api.get("services/settings/").status_code == 200


def test_revoking_an_unknown_key_is_404(sandbox_api):
    assert sandbox_api.delete("services/api-keys/Zz9Zz9Zz/").status_code == 404


# --- §9 applications and annotations -------------------------------------------------------


def test_the_exam_applications_are_a_fixed_realistic_list(sandbox_api):
    apps = sandbox_api.get("exams/applications/").json()
    names = {a["name"] for a in apps}
    assert {"Abdomen", "Cardiac", "Lung", "Bladder", "MSK", "OB/GYN", "Vascular", "Nerve"} <= names
    assert apps == APPLICATIONS  # stable UUIDs, the same every run


def cardiac_uuid():
    return next(a["uuid"] for a in APPLICATIONS if a["name"] == "Cardiac")


GROUPS = [{"title": "Our special annotations", "labels": ["LABEL1", "LABEL2"], "linked": False}]


def test_it_customises_an_application_and_lists_it(sandbox_api):
    assert sandbox_api.get("services/applications/").json() == []
    uuid = cardiac_uuid()
    r = sandbox_api.put(f"services/applications/{uuid}/", json={"annotations": GROUPS})
    assert r.status_code == 200
    expected = {"uuid": uuid, "name": "Cardiac", "annotations": GROUPS}
    assert r.json() == expected
    assert sandbox_api.get(f"services/applications/{uuid}/").json() == expected
    assert sandbox_api.get("services/applications/").json() == [expected]


def test_deleting_a_customisation_removes_it(sandbox_api):
    uuid = cardiac_uuid()
    sandbox_api.put(f"services/applications/{uuid}/", json={"annotations": GROUPS})
    assert sandbox_api.delete(f"services/applications/{uuid}/").status_code == 204
    assert sandbox_api.get("services/applications/").json() == []
    assert sandbox_api.get(f"services/applications/{uuid}/").json()["annotations"] == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"annotations": "LABEL1"},
        {"annotations": [{"labels": ["A"], "linked": True}]},
        {"annotations": [{"title": "T", "labels": "A", "linked": True}]},
        {"annotations": [{"title": "T", "labels": [1, 2], "linked": True}]},
        {"annotations": [{"title": "T", "labels": ["A"], "linked": "yes"}]},
        {"annotations": [{"title": "T", "labels": ["A"]}]},
        {"annotations": ["T"]},
    ],
)
def test_a_badly_shaped_customisation_is_400(sandbox_api, body):
    r = sandbox_api.put(f"services/applications/{cardiac_uuid()}/", json=body)
    assert r.status_code == 400
    assert "annotations" in r.json()
    assert sandbox_api.get("services/applications/").json() == []


def test_errors_point_at_the_bad_group(sandbox_api):
    good = {"title": "T", "labels": ["A"], "linked": True}
    r = sandbox_api.put(
        f"services/applications/{cardiac_uuid()}/",
        json={"annotations": [good, {"title": "", "labels": ["A"], "linked": True}]},
    )
    assert r.json() == {"annotations": [{}, {"title": ["This field is required."]}]}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_an_unknown_application_is_404(sandbox_api, method):
    r = sandbox_api.request(
        method,
        "services/applications/6b0f6a4e-0000-4000-8000-000000000000/",
        json={"annotations": GROUPS},
    )
    assert r.status_code == 404


def test_an_oversized_report_is_413(clarius_sandbox, sandbox_api, monkeypatch):
    monkeypatch.setattr("clarius_sandbox.service_api.REPORT_MAX_BYTES", 1000)
    submission = clarius_sandbox.upload_exam(clarius_sandbox.add_user("Ann"), notify=False)
    r = sandbox_api.post(
        f"services/requests/{submission.request_uuid}/reports/",
        data={"name": "Big"},
        files={"file": ("big.pdf", b"%PDF" * 100_000, "application/pdf")},
    )
    assert r.status_code == 413
    assert "detail" in r.json()
