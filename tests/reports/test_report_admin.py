"""Reports in Django admin: state, attempts, last error, and "retry now"."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from portal.reports.models import Addendum, Findings, Report
from portal.reports.review import add_addendum
from tests.reports.conftest import sign


@pytest.fixture
def admin_client(client, db):
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    client.force_login(root)
    return client


def test_it_lists_failed_reports_with_their_error_and_retries_them(
    admin_client, exams, users, monkeypatch, django_capture_on_commit_callbacks
):
    failed = sign(exams["north"], users["bob"])
    Report.objects.filter(pk=failed.pk).update(
        state="failed", attempts=8, next_attempt_at=None, last_error="ServerError: HTTP 503"
    )
    changelist = reverse("admin:reports_report_changelist")
    page = admin_client.get(changelist, {"state__exact": "failed"}).content.decode()
    assert "ServerError: HTTP 503" in page

    queued = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: queued.append(a))
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(changelist, {"action": "retry_now", "_selected_action": [failed.pk]})
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == ("pending", 0)
    assert queued == [("portal.reports.tasks.push_report", failed.pk)]


def test_it_never_retries_a_pushed_report(admin_client, exams, users, monkeypatch):
    pushed = sign(exams["north"], users["bob"])
    Report.objects.filter(pk=pushed.pk).update(state="pushed", next_attempt_at=None)
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)
    changelist = reverse("admin:reports_report_changelist")
    admin_client.post(changelist, {"action": "retry_now", "_selected_action": [pushed.pk]})
    pushed.refresh_from_db()
    assert pushed.state == "pushed" and pushed.next_attempt_at is None


def test_it_shows_findings_and_addenda_read_only(admin_client, exams, users):
    exam = exams["north"]
    sign(exam, users["bob"])
    add_addendum(exam, users["bob"], "More.")
    findings = Findings.objects.get()
    addendum = Addendum.objects.get()
    for name, obj in [("findings", findings), ("addendum", addendum)]:
        page = admin_client.get(reverse(f"admin:reports_{name}_change", args=[obj.pk]))
        assert page.status_code == 200
        assert 'name="_save"' not in page.content.decode()
    response = admin_client.post(
        reverse("admin:reports_findings_change", args=[findings.pk]), {"impression": "Changed"}
    )
    assert response.status_code == 403
    findings.refresh_from_db()
    assert findings.impression != "Changed"
