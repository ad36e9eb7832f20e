"""The findings form checks the version it was loaded at, as the API's If-Match does:
a save or a signature over someone else's newer edits re-renders the page with the
reason and the person's text, instead of silently overwriting the other reviewer."""

import re

from django.urls import reverse

from portal.reports.models import Findings, Report
from portal.reports.review import UNSAVED, findings_version
from tests.reports.conftest import FINDINGS


def page_version(client, exam) -> str:
    html = client.get(reverse("exam-detail", args=[exam.pk])).content.decode()
    match = re.search(r'<input type="hidden" name="version" value="([^"]*)"', html)
    assert match, "the findings form carries no version"
    return match.group(1)


def test_the_form_carries_the_version_it_was_loaded_at(login, exams, users):
    exam = exams["north"]
    client = login("bob")
    assert page_version(client, exam) == UNSAVED
    client.post(reverse("exam-findings", args=[exam.pk]), {**FINDINGS, "version": UNSAVED})
    assert page_version(client, exam) == findings_version(Findings.objects.get(exam=exam))


def test_a_stale_save_is_refused_with_the_reason_and_keeps_both_texts(client, exams, users):
    exam = exams["north"]
    url = reverse("exam-findings", args=[exam.pk])
    client.force_login(users["bob"])
    loaded_at = page_version(client, exam)
    # Alice saves first, from a page loaded at the same moment.
    client.force_login(users["alice"])
    assert client.post(url, {**FINDINGS, "version": loaded_at}).status_code == 302
    # Bob saves the page he loaded before.
    client.force_login(users["bob"])
    mine = {**FINDINGS, "impression": "Bob's own impression.", "version": loaded_at}
    response = client.post(url, mine)
    assert response.status_code == 409
    html = response.content.decode()
    assert "Alice Admin saved these findings" in html
    assert "Bob&#x27;s own impression." in html  # his text is still in the form
    findings = Findings.objects.get(exam=exam)
    assert findings.impression == FINDINGS["impression"]  # Alice's edit is kept
    current = findings_version(findings)
    assert f'name="version" value="{current}"' in html
    # Saving again from that page is a deliberate choice, and it works.
    assert client.post(url, {**mine, "version": current}).status_code == 302
    assert Findings.objects.get(exam=exam).impression == "Bob's own impression."


def test_a_stale_sign_is_refused_too(client, exams, users):
    exam = exams["north"]
    client.force_login(users["bob"])
    loaded_at = page_version(client, exam)
    client.force_login(users["alice"])
    client.post(reverse("exam-findings", args=[exam.pk]), {**FINDINGS, "version": loaded_at})
    client.force_login(users["bob"])
    response = client.post(
        reverse("exam-sign", args=[exam.pk]),
        {**FINDINGS, "impression": "Signed over.", "version": loaded_at},
    )
    assert response.status_code == 409
    assert not Report.objects.exists()
    findings = Findings.objects.get(exam=exam)
    assert (findings.is_signed, findings.impression) == (False, FINDINGS["impression"])


def test_a_post_without_a_version_is_not_checked(login, exams):
    # A page rendered before the field existed still saves, as before.
    exam = exams["north"]
    client = login("bob")
    client.post(reverse("exam-findings", args=[exam.pk]), FINDINGS)
    response = client.post(
        reverse("exam-findings", args=[exam.pk]), {**FINDINGS, "impression": "Again."}
    )
    assert response.status_code == 302
    assert Findings.objects.get(exam=exam).impression == "Again."


def test_a_version_that_is_not_one_is_stale(login, exams):
    exam = exams["north"]
    url = reverse("exam-findings", args=[exam.pk])
    response = login("bob").post(url, {**FINDINGS, "version": "x\x00y"})
    assert response.status_code in (400, 409)
    response = login("bob").post(url, {**FINDINGS, "version": "v" * 65})
    assert response.status_code == 400
    assert not Findings.objects.exists()
