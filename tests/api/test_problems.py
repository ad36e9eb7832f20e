"""Every API error is an RFC 9457 problem: the statuses, their headers, the helpers."""

import pytest
from django.test import override_settings
from django.urls import reverse
from rest_framework import exceptions
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from portal.api import errors
from tests.api.keyring import bearer, key_for
from tests.api.problems import field_error, problem
from tests.factories import make_exam


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer cpk_nope_nope"}, {"Authorization": "Bearer"}]
)
def test_missing_or_unknown_credentials_are_a_401_with_the_bearer_challenge(client, headers):
    response = client.get(reverse("api-exam-list"), headers=headers)
    body = problem(response, 401)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert body["type"].endswith("/api/problems/not-authenticated")


def test_a_refusal_is_a_403_problem(client, trio, northside):
    exam = make_exam(northside, trio[1])
    client.force_login(trio[1])
    response = client.get(
        reverse("api-exam-detail", args=[exam.pk]), headers={"X-Portal-Institution": "nowhere"}
    )
    assert problem(response, 403)["type"].endswith("/api/problems/forbidden")


def test_another_institutions_exam_is_a_404_problem(client, trio, southside):
    exam = make_exam(southside, trio[2])
    client.force_login(trio[1])
    body = problem(client.get(reverse("api-exam-detail", args=[exam.pk])), 404)
    assert body["type"] == "http://testserver/api/problems/not-found"


def test_a_validation_problem_names_every_field_and_keeps_the_reasons(client, trio, northside):
    client.force_login(trio[1])
    response = client.get(reverse("api-exam-list"), {"status": "bogus", "sort": "price"})
    body = problem(response, 400)
    assert body["type"].endswith("/api/problems/invalid-input")
    assert {e["field"] for e in body["errors"]} == {"status", "sort"}
    assert "choose one of" in field_error(response, "status")


def test_throttling_is_a_429_problem_with_retry_after(client, trio, northside, settings):
    settings.PORTAL_API_KEY_RATE = "1/min"
    key = bearer(key_for(trio[1], "northside", scope="read"))
    assert client.get(reverse("api-exam-list"), headers=key).status_code == 200
    response = client.get(reverse("api-exam-list"), headers=key)
    problem(response, 429)
    assert response["Retry-After"].isdigit() and int(response["Retry-After"]) >= 1


def test_an_unsupported_method_is_a_405_problem(client, trio, northside):
    client.force_login(trio[1])
    problem(client.delete(reverse("api-exam-list")), 405)


class Raising(APIView):
    authentication_classes = []
    permission_classes = []
    exc = None

    def get(self, request):
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "status", "slug"),
    [
        (errors.Conflict("Already signed."), 409, "conflict"),
        (errors.PreconditionFailed(), 412, "precondition-failed"),
        (errors.PreconditionRequired(), 428, "precondition-required"),
        (errors.PayloadTooLarge(), 413, "too-large"),
        (exceptions.ValidationError({"items": [{"name": ["Required."]}]}), 400, "invalid-input"),
        (exceptions.ValidationError(["Not both."]), 400, "invalid-input"),
        (exceptions.ParseError("Not JSON."), 400, "bad-request"),
        (exceptions.UnsupportedMediaType("text/csv"), 415, "unsupported-media-type"),
    ],
)
def test_the_helpers_and_drfs_exceptions_become_problems(exc, status, slug):
    request = APIRequestFactory().get("/api/v1/anything")
    response = Raising.as_view(exc=exc)(request)
    response.render()
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.data
    assert body["type"] == f"http://testserver/api/problems/{slug}"
    assert body["status"] == status and body["title"] and body["detail"]
    if status == 400 and slug == "invalid-input":
        assert body["errors"]


def test_nested_field_errors_are_named_with_dots():
    detail = {"items": [{"name": ["Required."]}], "non_field_errors": ["Not both."]}
    assert errors.field_errors(detail) == [
        {"field": "items.0.name", "detail": "Required."},
        {"detail": "Not both."},
    ]


def test_problem_response_is_for_views_that_answer_without_raising():
    response = errors.problem_response(409, "Taken.", slug="conflict")
    assert response.status_code == 409
    assert response.data == {
        "type": "/api/problems/conflict",
        "title": "Conflict with the current state",
        "status": 409,
        "detail": "Taken.",
    }
    assert response.content_type == "application/problem+json"


@override_settings(DATA_UPLOAD_MAX_NUMBER_FIELDS=3)
def test_djangos_refusal_of_a_body_is_a_400_problem(client, trio, northside):
    exam = make_exam(northside, trio[1])
    client.force_login(trio[1])
    data = {f"f{i}": "x" for i in range(10)}
    response = client.post(reverse("api-exam-reports", args=[exam.pk]), data)
    assert "more form fields" in problem(response, 400)["detail"]
