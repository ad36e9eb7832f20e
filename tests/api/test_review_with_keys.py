"""The review endpoints with institution API keys: a key acts as its member, with that
member's role, in the key's institution only; a read key writes nothing."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from portal.reports.models import Findings, Report
from portal.reports.review import UNSAVED
from tests.api.conftest import complete_answers
from tests.api.keyring import bearer, key_for
from tests.reports.conftest import FINDINGS

BODY = {**FINDINGS, "image_quality": 4}


def put(client, exam, key, etag, body=BODY):
    return client.put(
        reverse("api-exam-findings", args=[exam.pk]),
        json.dumps(body),
        content_type="application/json",
        headers={**bearer(key), "If-Match": etag},
    )


def test_a_reviewers_write_key_saves_and_signs_without_csrf(exams, users):
    exam = exams["north"]
    client = Client(enforce_csrf_checks=True)
    key = key_for(users["bob"], "northside", scope="write")
    got = client.get(reverse("api-exam-findings", args=[exam.pk]), headers=bearer(key))
    assert got.status_code == 200
    response = put(client, exam, key, got["ETag"], {**BODY, **complete_answers(exam)})
    assert response.status_code == 200, response.content
    signed = client.post(
        reverse("api-exam-sign", args=[exam.pk]),
        headers={**bearer(key), "If-Match": response["ETag"]},
    )
    assert signed.status_code == 201, signed.content
    assert Report.objects.get().created_by == users["bob"]


def test_a_read_key_reads_but_writes_nothing(exams, users):
    exam = exams["north"]
    client = Client()
    key = key_for(users["bob"], "northside", scope="read")
    assert (
        client.get(reverse("api-exam-findings", args=[exam.pk]), headers=bearer(key)).status_code
        == 200
    )
    assert put(client, exam, key, f'"{UNSAVED}"').status_code == 403
    assert (
        client.post(reverse("api-exam-assignment", args=[exam.pk]), headers=bearer(key)).status_code
        == 403
    )
    assert not Findings.objects.exists()


def test_a_clinicians_key_cannot_review_and_a_key_stays_in_its_institution(exams, users):
    client = Client()
    clinician = key_for(users["alice"], "southside", scope="write")
    assert put(client, exams["alice_south"], clinician, f'"{UNSAVED}"').status_code == 403
    # alice's Southside key does not reach Northside, where she is an administrator.
    assert put(client, exams["north"], clinician, f'"{UNSAVED}"').status_code == 404
    response = client.get(
        reverse("api-member-list"),
        headers={**bearer(clinician), "X-Portal-Institution": "northside"},
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "header",
    ["", "   ", '"' + "a" * 5000 + '"', "unsaved", "W/", ",,,", '*, W/"x"'],
)
def test_odd_if_match_headers_are_4xx(exams, users, header):
    client = Client()
    key = key_for(users["bob"], "northside")
    response = put(client, exams["north"], key, header)
    assert response.status_code in (412, 428)
    assert not Findings.objects.exists()


def test_a_nul_in_if_match_is_dropped_before_the_view(exams, users):
    # portal.request_headers drops NUL bytes from every header: what is left is compared.
    client = Client()
    key = key_for(users["bob"], "northside")
    assert put(client, exams["north"], key, '"unsa\x00ved"').status_code == 200
