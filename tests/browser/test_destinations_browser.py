"""An administrator adds a PACS/EHR destination, tests its connection, reads its delivery
log and resends a failed delivery; the exam page shows the delivery per destination.
The kind is one the tests register (tests/outbound/conftest.py): the pages name no
protocol."""

import pytest
from django.urls import reverse

from portal.outbound import kinds, planning, sending
from portal.outbound.models import Destination, Transmission
from tests.browser.test_login_browser import log_in
from tests.factories import make_exam
from tests.outbound.conftest import KEY
from tests.outbound.conftest import receiver as receiver  # the fixture


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"


def test_an_admin_adds_tests_and_resends(
    page,
    live_server,
    alice,
    bob,
    northside,
    receiver,
    screenshot,  # noqa: F811
):
    log_in(page, live_server, "alice@example.org")
    page.goto(f"{live_server.url}{reverse('destination-list')}")
    page.click("text=Add Test receiver")
    page.fill("input[name=name]", "Main PACS")
    page.fill("input[name=option_host]", "pacs.example.org")
    page.fill("input[name=option_port]", "11112")
    page.fill("input[name=secret]", "Tok3n-value")
    screenshot("destination-add")
    page.click("button.primary")
    page.wait_for_selector(".message.success")
    destination = Destination.objects.get()
    assert destination.secret == "Tok3n-value" and destination.kind == KEY
    assert "Tok3n-value" not in page.content()

    page.click("text=Test connection")
    page.wait_for_selector("text=Main PACS answered: It answered the check in 3 ms.")

    # The live server commits at once: planning nudges the worker (in-process in tests),
    # so the answers are set first; sending again by hand finds nothing due.
    receiver.answers = ["Stored", kinds.DeliveryFailed("The PACS is full", permanent=True)]
    exam = make_exam(northside, bob, captures=2)
    planning.plan_exam(exam)
    rows = list(Transmission.objects.order_by("pk"))
    for row in rows:
        sending.send_transmission(row.pk)
    assert [r.state for r in Transmission.objects.order_by("pk")] == ["sent", "failed"]
    page.goto(f"{live_server.url}{reverse('destination-detail', args=[destination.pk])}")
    assert "The PACS is full" in page.content()
    screenshot("destination-log")
    page.click(f"tr[data-transmission='{rows[1].pk}'] button:has-text('Resend')")
    page.wait_for_selector("text=again now")
    assert Transmission.objects.get(pk=rows[1].pk).state == "sent"  # sent again at once

    page.goto(f"{live_server.url}{reverse('exam-detail', args=[exam.pk])}")
    panel = page.locator("#deliveries")
    assert "Main PACS" in panel.inner_text()
    assert "Sent (2)" in panel.inner_text()
    panel.scroll_into_view_if_needed()
    screenshot("exam-deliveries")
