"""Structured worksheets over the API: exam types (read by all, written by administrators),
answers / views / key images in the findings, signing refused field by field, trainees'
preliminary signatures and attestation, and the exam list by exam type."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from portal.exams.models import Exam
from portal.reports.models import Findings, Report
from portal.tenants.models import Membership
from portal.worksheets.engine import Worksheet
from portal.worksheets.models import ExamType, WorksheetTemplate
from tests.api.conftest import complete_answers
from tests.api.keyring import bearer, key_for
from tests.api.problems import field_error, problem
from tests.factories import make_exam
from tests.reports.conftest import FINDINGS

TEXT = {k: v for k, v in FINDINGS.items() if k != "exam_type"} | {"image_quality": 4}
DEFINITION = {
    "sections": [
        {
            "code": "gb",
            "title": "Gallbladder",
            "fields": [
                {"code": "stones", "label": "Stones", "type": "yesno", "required": True},
                {"code": "wall", "label": "Wall", "type": "number", "unit": "mm", "max": 20},
            ],
        }
    ],
    "views": [{"code": "long", "label": "Long axis", "required": True}],
}


class Caller:
    """A client using one key: ``call("put", url, body, If_Match=...)``."""

    def __init__(self, user, institution="northside", scope="write"):
        self.client = Client()
        self.headers = bearer(key_for(user, institution, scope=scope))

    def __call__(self, method, url, body=None, **headers):
        data = "" if body is None else json.dumps(body)
        return getattr(self.client, method)(
            url, data, content_type="application/json", headers={**self.headers, **headers}
        )


@pytest.fixture
def keys(users):
    return {
        "alice": Caller(users["alice"]),
        "bob": Caller(users["bob"]),
        "bob_read": Caller(users["bob"], scope="read"),
        "south": Caller(users["charlie"], "southside"),
    }


def types_url(code=None):
    if code is None:
        return reverse("api-exam-type-list")
    return reverse("api-exam-type-detail", args=[code])


def findings_url(exam):
    return reverse("api-exam-findings", args=[exam.pk])


def save(call, exam, body):
    etag = call("get", findings_url(exam))["ETag"]
    return call("put", findings_url(exam), body, If_Match=etag)


def sign(call, exam, **headers):
    return call("post", reverse("api-exam-sign", args=[exam.pk]), **headers)


def attest(call, exam):
    return call("post", reverse("api-exam-attest", args=[exam.pk]))


# --- exam types --------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["alice", "bob", "bob_read"])
def test_every_member_reads_the_exam_types_with_their_worksheets(keys, exams, who):
    response = keys[who]("get", types_url())
    assert response.status_code == 200, response.content
    body = response.json()
    codes = [t["code"] for t in body["results"]]
    assert codes == sorted(codes) and "lung" in codes
    assert body["next"] is None  # an institution's types fit on one page
    lung = next(t for t in body["results"] if t["code"] == "lung")
    sheet = Worksheet(
        ExamType.objects.get(institution__slug="northside", code="lung")
        .current_template()
        .definition
    )
    template = lung["template"]
    fields = [f["code"] for s in template["sections"] for f in s["fields"]]
    assert fields == list(sheet.fields)
    assert [v["code"] for v in template["views"]] == list(sheet.views)
    assert template["problems"] == [] and template["version"] >= 1
    detail = keys[who]("get", types_url("lung"))
    assert detail.status_code == 200 and detail.json() == lung


def test_another_institutions_exam_type_is_a_404(keys, exams, southside):
    ExamType.objects.create(institution=southside, code="south_only", name="South only")
    assert keys["south"]("get", types_url("south_only")).status_code == 200
    for who in ("alice", "bob"):
        problem(keys[who]("get", types_url("south_only")), 404)
        problem(
            keys[who]("put", types_url("south_only"), {"name": "Mine"}),
            404 if who == "alice" else 403,
        )
    assert ExamType.objects.get(code="south_only").name == "South only"


def test_the_list_costs_the_same_queries_for_any_number_of_types(
    keys, exams, django_assert_max_num_queries
):
    with django_assert_max_num_queries(8):
        assert keys["bob"]("get", types_url()).status_code == 200


def test_an_admin_adds_an_exam_type_with_version_1(keys, exams, users):
    body = {
        "code": "gallbladder",
        "name": "Gallbladder",
        "clarius_applications": ["Gallbladder preset"],
        "cpt_codes": ["76705"],
        "definition": DEFINITION,
    }
    response = keys["alice"]("post", types_url(), body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["template"]["version"] == 1
    assert created["clarius_applications"] == ["Gallbladder preset"]
    exam_type = ExamType.objects.get(institution__slug="northside", code="gallbladder")
    assert exam_type.current_template().created_by == users["alice"]
    again = keys["alice"]("post", types_url(), body)
    assert "already has the code" in field_error(again, "code")


@pytest.mark.parametrize("who", ["bob", "bob_read"])
def test_only_an_admin_with_a_write_key_writes_exam_types(keys, exams, users, who):
    body = {"code": "gb", "name": "GB", "definition": DEFINITION}
    problem(keys[who]("post", types_url(), body), 403)
    problem(keys[who]("put", types_url("lung"), {"name": "Mine"}), 403)
    alice_read = Caller(users["alice"], scope="read")
    problem(alice_read("post", types_url(), body), 403)
    assert not ExamType.objects.filter(code="gb").exists()
    assert ExamType.objects.get(institution__slug="northside", code="lung").name != "Mine"


def test_a_changed_definition_is_a_new_version_and_the_old_one_is_unchanged(keys, exams):
    exam_type = ExamType.objects.get(institution__slug="northside", code="lung")
    old = exam_type.current_template()
    old_definition = json.loads(json.dumps(old.definition))
    same = keys["alice"]("put", types_url("lung"), {"definition": old.definition})
    assert same.status_code == 200 and same.json()["template"]["version"] == old.version
    response = keys["alice"](
        "put", types_url("lung"), {"definition": DEFINITION, "name": "Lung (new)"}
    )
    assert response.status_code == 200, response.content
    assert response.json()["template"]["version"] == old.version + 1
    assert response.json()["name"] == "Lung (new)"
    old.refresh_from_db()
    assert old.definition == old_definition
    assert WorksheetTemplate.objects.filter(exam_type=exam_type).count() == old.version + 1
    stale = keys["alice"](
        "put",
        types_url("lung"),
        {"definition": {**DEFINITION, "views": []}, "based_on_version": old.version},
    )
    problem(stale, 409)


def test_retiring_and_renaming_keep_the_worksheet(keys, exams):
    before = ExamType.objects.get(institution__slug="northside", code="lung").current_template()
    response = keys["alice"]("put", types_url("lung"), {"is_active": False})
    assert response.status_code == 200 and response.json()["is_active"] is False
    assert response.json()["template"]["version"] == before.version
    problem(keys["alice"]("put", types_url("lung"), {"is_active": "no"}), 400)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"definition": {"sections": "x"}}, "definition"),
        ({"definition": {"sections": [{"code": ["x"], "title": "T"}]}}, "definition"),
        ({"definition": {"sections": [], "views": [{"code": {}, "label": 1}]}}, "definition"),
        ({"definition": []}, "definition"),
        ({"name": "\x00"}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"cpt_codes": ["12"]}, "cpt_codes"),
        ({"cpt_codes": "76705"}, "cpt_codes"),
        ({"clarius_applications": ["a,b"]}, "clarius_applications"),
        ({"clarius_applications": [{"a": 1}]}, "clarius_applications.0"),
        ({"clarius_applications": [f"app{i}" for i in range(30)]}, "clarius_applications"),
    ],
)
def test_hostile_exam_type_writes_are_400_naming_the_field(keys, exams, body, field):
    response = keys["alice"]("put", types_url("lung"), body)
    field_error(response, field)


def test_deep_or_huge_exam_type_bodies_are_refused(keys, exams):
    deep = {"sections": []}
    for _ in range(40):
        deep = {"sections": [deep]}
    response = keys["alice"]("put", types_url("lung"), {"definition": deep})
    assert 400 <= response.status_code < 500
    nested = "[" * 5000 + "]" * 5000
    raw = keys["alice"].client.put(
        types_url("lung"), nested, content_type="application/json", headers=keys["alice"].headers
    )
    assert 400 <= raw.status_code < 500
    huge = {"definition": {"sections": [], "views": [], "x": "y" * 600_000}}
    assert keys["alice"]("put", types_url("lung"), huge).status_code == 413
    missing = keys["alice"]("post", types_url(), {"name": "No code"})
    field_error(missing, "code")


# --- findings: answers, views, key images ------------------------------------------------


def test_a_complete_worksheet_is_stored_and_shown(keys, exams, users):
    exam = exams["north"]
    capture = exam.captures.first()
    body = {**TEXT, **complete_answers(exam), "key_images": {str(capture.pk): "Pleura"}}
    response = save(keys["bob"], exam, body)
    assert response.status_code == 200, response.content
    shown = response.json()
    assert shown["exam_type"] == "lung" and shown["exam_type_confirmed"] is True
    assert shown["answers"] == body["answers"] and shown["views"] == body["views"]
    assert shown["key_images"] == {str(capture.pk): "Pleura"}
    assert shown["missing"] == {} and shown["template_version"] >= 1
    findings = Findings.objects.get(exam=exam)
    assert findings.answers == body["answers"] and findings.template.exam_type.code == "lung"
    exam.refresh_from_db()
    assert exam.exam_type.code == "lung" and exam.exam_type_confirmed
    # A text-only save (a client of before the worksheets) keeps the structure.
    again = save(keys["bob"], exam, {**TEXT, "impression": "Changed."})
    assert again.status_code == 200, again.content
    assert again.json()["answers"] == body["answers"]
    assert again.json()["key_images"] == {str(capture.pk): "Pleura"}


def test_a_draft_says_what_signing_still_needs(keys, exams):
    exam = exams["north"]
    response = save(keys["bob"], exam, {**TEXT, "exam_type": "lung", "impression": ""})
    assert response.status_code == 200, response.content
    missing = response.json()["missing"]
    sheet = Worksheet(
        ExamType.objects.get(institution=exam.institution, code="lung")
        .current_template()
        .definition
    )
    required = {f"answers.{c}" for c, f in sheet.fields.items() if f.required}
    required |= {f"views.{c}" for c, v in sheet.views.items() if v.required}
    assert set(missing) == required | {"impression"}


@pytest.mark.parametrize(
    "change, field",
    [
        ({"answers": {"no_such_field": "x"}}, "answers.no_such_field"),
        ({"views": {"no_such_view": "obtained"}}, "views.no_such_view"),
        ({"views": {"VIEW": {"not_obtained": ""}}}, "views.VIEW"),
        ({"key_images": {"abc": "x"}}, "key_images.abc"),
        ({"key_images": {"999999": "x"}}, "key_images.999999"),
        ({"key_images": {"1": 5}}, "key_images.1"),
        ({"answers": []}, "answers"),
        ({"views": "obtained"}, "views"),
        ({"exam_type": "no_such_type"}, "exam_type"),
        ({"exam_type": 7}, "exam_type"),
        ({"exam_type": None}, "exam_type"),
        ({"answers": {"\x00": 1}}, "answers.\x00"),
    ],
)
def test_invalid_structured_answers_are_400_naming_the_field(keys, exams, change, field):
    exam = exams["north"]
    body = {**TEXT, **complete_answers(exam)}
    sheet_views = list(body["views"])
    change = json.loads(json.dumps(change).replace("VIEW", sheet_views[0]))
    field = field.replace("VIEW", sheet_views[0])
    response = save(keys["bob"], exam, {**body, **change})
    field_error(response, field)
    assert not Findings.objects.filter(exam=exam).exists()


def test_a_wrong_answer_type_or_value_is_400(keys, exams):
    exam = exams["north"]
    body = {**TEXT, **complete_answers(exam)}
    code, value = next(iter(body["answers"].items()))
    for wrong in ("not a choice", 12345, ["x"] * 3, {"deep": {"er": 1}}):
        if wrong == value:
            continue
        response = save(keys["bob"], exam, {**body, "answers": {**body["answers"], code: wrong}})
        field_error(response, f"answers.{code}")
    assert not Findings.objects.filter(exam=exam).exists()


def test_a_key_image_of_another_exam_is_refused(keys, exams):
    exam, other = exams["north"], make_exam(exams["north"].institution, captures=1)
    capture = other.captures.get()
    body = {**TEXT, **complete_answers(exam), "key_images": {str(capture.pk): ""}}
    field_error(save(keys["bob"], exam, body), f"key_images.{capture.pk}")


def test_a_retired_type_stays_the_exams_own_but_is_not_offered_to_others(keys, exams):
    exam = exams["north"]
    assert save(keys["bob"], exam, {**TEXT, **complete_answers(exam)}).status_code == 200
    ExamType.objects.filter(institution=exam.institution, code="lung").update(is_active=False)
    assert save(keys["bob"], exam, {**TEXT, **complete_answers(exam)}).status_code == 200
    other = make_exam(exam.institution, captures=1)
    field_error(save(keys["bob"], other, {**TEXT, "exam_type": "lung"}), "exam_type")


# --- signing and attestation -------------------------------------------------------------


def test_signing_an_incomplete_worksheet_lists_every_missing_field(keys, exams):
    exam = exams["north"]
    save(keys["bob"], exam, {**TEXT, "exam_type": "lung", "impression": ""})
    body = problem(sign(keys["bob"], exam), 400)
    named = {e["field"] for e in body["errors"]}
    missing = keys["bob"]("get", findings_url(exam)).json()["missing"]
    assert named == set(missing) and any(f.startswith("views.") for f in named)
    assert any(f.startswith("answers.") for f in named) and "impression" in named
    assert not Report.objects.exists()
    assert Findings.objects.get(exam=exam).signed_at is None


def test_a_complete_worksheet_signs_201(keys, exams):
    exam = exams["north"]
    save(keys["bob"], exam, {**TEXT, **complete_answers(exam)})
    response = sign(keys["bob"], exam)
    assert response.status_code == 201, response.content
    assert response.json()["review_state"] == "signed"
    assert Report.objects.get().pk == response.json()["id"]
    problem(attest(keys["alice"], exam), 409)  # nothing awaits attestation


@pytest.fixture
def bob_trainee(northside, users):
    Membership.objects.filter(user=users["bob"], institution=northside).update(is_trainee=True)


def test_a_trainee_signs_preliminary_and_an_attending_attests(keys, exams, users, bob_trainee):
    exam = exams["north"]
    problem(attest(keys["alice"], exam), 409)  # not signed yet
    save(keys["bob"], exam, {**TEXT, **complete_answers(exam)})
    response = sign(keys["bob"], exam)
    assert response.status_code == 202, response.content
    assert response.json()["report"] is None
    assert response.json()["review_state"] == "preliminary"
    assert not Report.objects.exists()
    shown = keys["bob"]("get", findings_url(exam)).json()
    assert shown["signed_as_trainee"] and shown["awaiting_attestation"]
    # The trainee cannot edit or attest; the attending edits, then attests.
    problem(save(keys["bob"], exam, {**TEXT, **complete_answers(exam)}), 409)
    problem(attest(keys["bob"], exam), 403)
    edited = save(keys["alice"], exam, {**TEXT, **complete_answers(exam), "impression": "Ok."})
    assert edited.status_code == 200, edited.content
    attested = attest(keys["alice"], exam)
    assert attested.status_code == 201, attested.content
    assert attested.json()["review_state"] == "signed"
    report = Report.objects.get()
    assert attested.json()["id"] == report.pk and report.created_by == users["alice"]
    findings = Findings.objects.get(exam=exam)
    assert findings.attested_by == users["alice"] and findings.impression == "Ok."
    shown = keys["bob"]("get", findings_url(exam)).json()
    assert shown["attested_by"]["id"] == users["alice"].pk and shown["attested_at"]
    problem(attest(keys["alice"], exam), 409)  # attested already


def test_without_holding_a_trainees_signature_issues_a_preliminary_report(
    keys, exams, northside, bob_trainee
):
    northside.hold_trainee_reports = False
    northside.save(update_fields=["hold_trainee_reports"])
    exam = exams["north"]
    save(keys["bob"], exam, {**TEXT, **complete_answers(exam)})
    response = sign(keys["bob"], exam)
    assert response.status_code == 201, response.content
    assert response.json()["review_state"] == "preliminary"


# --- the tenant and role matrix ----------------------------------------------------------


def test_other_institutions_and_clinicians_reach_nothing(keys, exams, users):
    exam = exams["north"]
    charlie = Client()
    charlie.force_login(users["charlie"])  # a stranger at Northside
    for call in (keys["south"],):
        problem(call("get", findings_url(exam)), 404)
        problem(call("put", findings_url(exam), TEXT, If_Match="*"), 404)
        problem(sign(call, exam), 404)
        problem(attest(call, exam), 404)
    assert charlie.get(findings_url(exam)).status_code == 404
    assert charlie.post(reverse("api-exam-attest", args=[exam.pk])).status_code == 404
    clinician = Caller(users["alice"], "southside")
    problem(attest(clinician, exams["alice_south"]), 403)
    problem(keys["bob_read"]("post", reverse("api-exam-attest", args=[exam.pk])), 403)


# --- the exam list -----------------------------------------------------------------------


def test_the_exam_list_shows_and_filters_by_exam_type(keys, exams, django_assert_num_queries):
    exam = exams["north"]
    lung = ExamType.objects.get(institution=exam.institution, code="lung")
    others = [make_exam(exam.institution, captures=1) for _ in range(3)]
    Exam.objects.filter(pk__in=[exam.pk, others[0].pk]).update(exam_type=lung)
    url = reverse("api-exam-list")
    everything = keys["bob"]("get", url).json()["results"]
    shown = {e["id"]: (e["exam_type"], e["exam_type_confirmed"]) for e in everything}
    assert shown[exam.pk] == ("lung", False) and shown[others[1].pk] == (None, False)
    keys["bob"](
        "get",
        url,
    )
    with django_assert_num_queries(QUERIES) as one:
        filtered = keys["bob"].client.get(url, {"exam_type": "lung"}, headers=keys["bob"].headers)
    assert {e["id"] for e in filtered.json()["results"]} == {exam.pk, others[0].pk}
    with django_assert_num_queries(len(one.captured_queries)):
        keys["bob"].client.get(url, headers=keys["bob"].headers)
    none = keys["bob"].client.get(url, {"exam_type": "none"}, headers=keys["bob"].headers)
    assert {e["id"] for e in none.json()["results"]} == {others[1].pk, others[2].pk}
    unknown = keys["bob"].client.get(url, {"exam_type": "nope"}, headers=keys["bob"].headers)
    assert unknown.json()["results"] == []
    field_error(
        keys["bob"].client.get(url, {"exam_type": "Not A Code"}, headers=keys["bob"].headers),
        "exam_type",
    )


# the key (with its member and institution), the page, its captures, submissions and
# reports: as bench/bench_api.py counts them
QUERIES = 5


def test_an_addendum_names_the_images_that_came_after_signing_and_is_audited(keys, exams):
    from portal.exams.models import AuditEvent, Capture, Exam

    exam = exams["north"]
    save(keys["bob"], exam, {**TEXT, **complete_answers(exam)})
    assert sign(keys["bob"], exam).status_code == 201
    late = exam.captures.first()
    Capture.objects.filter(pk=late.pk).update(after_signing=True)
    Exam.objects.filter(pk=exam.pk).update(new_images_since_signing=True)
    url = reverse("api-exam-addenda", args=[exam.pk])
    stranger = exams["alice_south"].captures.first()
    refused = keys["bob"]("post", url, {"text": "About them.", "captures": [stranger.pk]})
    assert refused.status_code == 400
    response = keys["bob"]("post", url, {"text": "About them.", "captures": [late.pk]})
    assert response.status_code == 201, response.content
    exam.refresh_from_db()
    assert not exam.new_images_since_signing
    assert list(exam.addenda.get().captures.all()) == [late]
    actions = set(
        AuditEvent.objects.filter(object_id=str(exam.pk)).values_list("action", flat=True)
    )
    assert {"sign_findings", "add_addendum"} <= actions
