"""The reading flow in a real browser, by keyboard only: a reviewer opens the worklist,
reaches the first exam with the shortcuts, writes the interpretation, signs and goes on
to the next exam, five times; "?" lists the shortcuts. axe-core checks every page, the
shortcut dialog open, and the sign confirmation."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.exams.models import Exam
from portal.reports.models import Findings
from portal.worksheets.models import ExamType
from tests.browser.test_login_browser import PASSWORD
from tests.dashboard.conftest import exam

pytestmark = pytest.mark.django_db(transaction=True)

PATIENTS = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov"]


@pytest.fixture
def reading_day(trio, northside):
    """Six new exams of the "other" type (its worksheet: findings and the impression)."""
    alice = trio[0]
    other = ExamType.objects.get(institution=northside, code="other")
    now = timezone.now()
    made = []
    for i, name in enumerate([*PATIENTS, "Ken Thompson"]):
        made.append(
            exam(
                northside,
                alice,
                patient_name=name,
                submitted=now - timedelta(hours=i + 1),
                exam_type=other,
                exam_type_confirmed=True,
            )
        )
    return made


def focused(page) -> dict:
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          return {tag: el.tagName, name: el.getAttribute("name") || "",
                  text: (el.innerText || el.value || "").trim()};
        }"""
    )


def tab_to(page, matches, limit=80):
    """Press Tab until the focused element ``matches`` (a predicate on ``focused``)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if matches(focused(page)):
            return
    raise AssertionError(f"never reached by Tab; last focused: {focused(page)}")


def test_a_reviewer_reads_and_signs_five_exams_by_keyboard(
    page, live_server, reading_day, axe, viewport, screenshot
):
    desktop = viewport["width"] > 600
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "bob@example.org")
    page.fill("input[name=password]", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("h1")

    page.goto(f"{live_server.url}/worklist/?review_state=new")
    assert "6 exams" in page.locator("#worklist-total").inner_text()
    caption = page.locator("table.worklist caption").inner_text()
    assert "sorted by submitted, newest first" in caption

    # "?" lists the shortcuts in a dialog, checked by axe while it is open; Escape closes it.
    page.keyboard.press("?")
    dialog = page.locator("#shortcuts-dialog")
    assert dialog.is_visible()
    assert dialog.locator("h2").inner_text() == "Keyboard shortcuts"
    assert dialog.locator("kbd").count() >= 6
    axe.check(page)
    page.keyboard.press("Escape")
    assert not dialog.is_visible()

    # j selects the first row (focus on its link, a visible outline); x ticks it.
    page.keyboard.press("j")
    assert page.locator("tr.is-selected").count() == 1
    page.keyboard.press("x")
    assert page.locator("tr.is-selected input[data-pick]").is_checked()
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert PATIENTS[0] in page.locator("tr.is-selected").inner_text()
    if desktop:
        screenshot("worklist")
    page.keyboard.press("Enter")
    page.wait_for_url("**/exams/**")

    for number, name in enumerate(PATIENTS, start=1):
        assert name in page.locator("h1").inner_text()
        nav = page.locator("nav.reading-nav")
        assert f"Exam 1 of {7 - number}" in nav.inner_text()  # signed ones leave the list
        if number == 1:
            page.keyboard.press("?")
            assert page.locator("#shortcuts-dialog").is_visible()
            axe.check(page)
            page.keyboard.press("Escape")
            if desktop:
                screenshot("reading-exam")
        # "e" goes to the worksheet; the interpretation is a few Tabs on.
        page.keyboard.press("e")
        assert focused(page)["tag"] in ("SELECT", "INPUT", "TEXTAREA")
        tab_to(page, lambda el: el["name"] == "impression")
        page.keyboard.type(f"Normal study {number}.")
        tab_to(page, lambda el: el["tag"] == "BUTTON" and el["text"].startswith("Review and sign"))
        page.keyboard.press("Enter")
        page.wait_for_selector("h1:text('Sign this report?')")
        tab_to(page, lambda el: el["tag"] == "BUTTON" and el["text"].endswith("and next"))
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: "/exams/" in url and "?" in url or "/worklist/" in url)
        page.wait_for_selector("h1")

    signed = Exam.objects.filter(review_state="signed").order_by("-last_submitted_at")
    assert [e.patient.display_name for e in signed] == PATIENTS
    assert Findings.objects.get(exam=reading_day[4]).impression == "Normal study 5."
    # The sixth exam is next, the only one left in the list.
    assert "Ken Thompson" in page.locator("h1").inner_text()
    assert "Exam 1 of 1" in page.locator("nav.reading-nav").inner_text()
