"""The reading flow: the worklist's columns and total, its remembered filters, bulk
assignment, next / previous from the exam page, "Sign and next", and signing while
captures are missing (the page and the API)."""

import datetime
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse
from django.utils import timezone

from portal import events
from portal.dashboard import listing
from portal.dashboard.templatetags.reading import age_at, waiting
from portal.exams.models import AuditEvent, Capture, Exam, Patient
from portal.reports.models import Findings
from portal.tenants.models import Membership
from portal.worksheets.models import ExamType
from tests.conftest import make_user
from tests.dashboard.conftest import exam, in_southside
from tests.factories import make_exam

URL = "/worklist/"


def rows(response):
    return [e.pk for e in response.context["page"].rows]


def membership(user, institution):
    return Membership.objects.get(user=user, institution=institution)


# --- Columns, total, filter choices, caption -----------------------------------------


@pytest.mark.parametrize(
    ("born", "on", "words"),
    [
        (datetime.date(1990, 6, 15), datetime.date(2026, 6, 14), "35 years"),
        (datetime.date(1990, 6, 15), datetime.date(2026, 6, 15), "36 years"),
        (datetime.date(2025, 1, 10), datetime.date(2026, 3, 9), "13 months"),
        (datetime.date(2026, 1, 31), datetime.date(2026, 3, 1), "1 month"),
        (datetime.date(2026, 2, 20), datetime.date(2026, 3, 2), "10 days"),
        (datetime.date(2026, 3, 2), datetime.date(2026, 3, 2), "0 days"),
        (datetime.date(2026, 3, 3), datetime.date(2026, 3, 2), ""),  # born after the exam
        (None, datetime.date(2026, 3, 2), ""),
    ],
)
def test_the_age_is_said_in_years_months_or_days_at_the_exam_date(born, on, words):
    assert age_at(born, on) == words


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (datetime.timedelta(seconds=10), "1 min"),
        (datetime.timedelta(minutes=42), "42 min"),
        (datetime.timedelta(hours=3, minutes=5), "3 h"),
        (datetime.timedelta(hours=47), "47 h"),
        (datetime.timedelta(days=2, hours=5), "2 days"),
    ],
)
def test_the_wait_is_said_in_words(delta, words):
    now = timezone.now()
    assert waiting(now - delta, now) == words


def test_the_worklist_shows_captures_age_waiting_and_the_total(client, trio, northside, ago):
    alice, bob, _ = trio
    made = make_exam(northside, alice, patient_name="Ann Smith", captures=3)
    Exam.objects.filter(pk=made.pk).update(
        first_submitted_at=ago(hours=3), last_submitted_at=ago(hours=3)
    )
    Patient.objects.filter(exam=made).update(date_of_birth=datetime.date(1980, 1, 1))
    # A resubmitted copy is not counted.
    copy = made.captures.last()
    Capture.objects.filter(pk=copy.pk).update(duplicate_of=made.captures.first())
    exam(northside, alice, review_state="signed")
    client.force_login(bob)
    response = client.get(URL)
    html = response.content.decode()
    row = response.context["page"].rows[1]
    assert row.pk == made.pk and row.capture_count == 2
    assert "2 exams" in html
    assert "3 h" in html
    years = timezone.localdate().year - 1980
    assert f"{years - 1} years" in html or f"{years} years" in html


def test_the_total_is_capped_where_counting_would_be_slow(client, trio, northside, monkeypatch):
    """A search or a date range is counted, up to the cap."""
    monkeypatch.setattr(listing, "COUNT_CAP", 3)
    for _ in range(5):
        exam(northside, trio[0])
    client.force_login(trio[1])
    assert client.get(URL, {"q": "pat"}).context["total"] == "more than 3 exams"
    assert client.get(URL, {"q": "pat", "size": 10}).context["total"] == "more than 3 exams"


def test_a_total_by_state_reviewer_or_clinician_is_read_from_the_tallies_exactly(
    client, trio, northside, monkeypatch
):
    """The tallies answer whatever the number: no cap, and the same figure as a count."""
    monkeypatch.setattr(listing, "COUNT_CAP", 3)
    alice, bob, _ = trio
    for _ in range(5):
        exam(northside, alice)
    exam(northside, alice, review_state=Exam.ReviewState.IN_REVIEW, reviewer=bob)
    client.force_login(bob)
    assert client.get(URL).context["total"] == "6 exams"
    assert client.get(URL, {"review_state": "new"}).context["total"] == "5 exams"
    assert client.get(URL, {"reviewer": "me"}).context["total"] == "1 exam"
    assert client.get(URL, {"reviewer": "none", "operator": alice.pk}).context["total"] == (
        "5 exams"
    )


def test_filters_offer_only_the_members_of_the_right_role(client, trio, northside):
    alice, bob, _ = trio
    dana = make_user("dana@example.org", "Dana Doctor")
    northside.memberships.create(user=dana, role="clinician")
    client.force_login(bob)
    form = client.get(URL).context["form"]
    operators = {value for value, _ in form.fields["operator"].choices if value}
    reviewers = {value for value, _ in form.fields["reviewer"].choices if value}
    assert operators == {str(dana.pk)}
    assert reviewers == {"me", "none", str(alice.pk), str(bob.pk)}  # alice: an administrator


def test_the_caption_says_the_sort_in_words(client, trio, northside):
    exam(northside, trio[0])
    client.force_login(trio[1])
    html = client.get(URL).content.decode()
    assert "sorted by submitted, newest first" in html
    assert "-submitted</caption>" not in html
    html = client.get(URL, {"sort": "-patient"}).content.decode()
    assert "sorted by patient, Z to A" in html


# --- Filters and sort remembered -------------------------------------------------------


def test_the_worklist_link_opens_on_the_last_filters_and_reset_forgets_them(
    client, trio, northside
):
    bob = trio[1]
    new = exam(northside, trio[0])
    exam(northside, trio[0], review_state="signed")
    client.force_login(bob)
    client.get(URL, {"review_state": "new", "sort": "patient", "after": ""})
    assert membership(bob, northside).worklist_query == "review_state=new&sort=patient"
    response = client.get(URL)
    assert response.status_code == 302
    assert response.url == URL + "?review_state=new&sort=patient"
    assert rows(client.get(response.url)) == [new.pk]

    response = client.get(URL, {"reset": "1"})
    assert response.status_code == 302 and response.url == URL
    assert membership(bob, northside).worklist_query == ""
    assert len(rows(client.get(URL))) == 2


def test_remembered_filters_are_per_institution(client, trio, northside, southside):
    alice = trio[0]
    client.force_login(alice)
    client.get(URL, {"review_state": "signed"})
    in_southside(client)
    assert client.get(URL).status_code == 200  # nothing saved at Southside
    assert membership(alice, southside).worklist_query == ""
    assert membership(alice, northside).worklist_query == "review_state=signed"


@pytest.mark.parametrize(
    "params",
    [
        {"review_state": "<script>", "q": "x" * 5000},
        {"sort": "'; drop table", "size": "-1", "operator": "99999999999999999999"},
        {"submitted_from": "9999-99-99", "reviewer": "../../"},
        "q=%ED%A0%80%00&sort=%FF",
    ],
)
def test_hostile_filters_are_not_saved_and_never_a_500(client, trio, northside, params):
    bob = trio[1]
    exam(northside, trio[0])
    client.force_login(bob)
    if isinstance(params, str):
        response = client.get(URL + "?" + params)
    else:
        response = client.get(URL, params)
    assert response.status_code in (200, 400)
    saved = membership(bob, northside).worklist_query
    assert len(saved) < 300 and "script" not in saved and "drop" not in saved


# --- Bulk assignment -------------------------------------------------------------------


@pytest.fixture
def emitted(monkeypatch):
    seen = []
    monkeypatch.setattr(
        events, "_subscribers", [lambda kind, exam, **data: seen.append((kind, exam.pk))]
    )
    return seen


def test_a_reviewer_assigns_several_exams_to_themself(client, trio, northside, emitted):
    alice, bob, _ = trio
    made = [exam(northside, alice) for _ in range(3)]
    client.force_login(bob)
    response = client.post(
        reverse("worklist-assign"),
        {
            "action": "assign_me",
            "exam": [e.pk for e in made],
            "next": "/worklist/?review_state=new",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/worklist/?review_state=new"
    assert "3 exams assigned." in response.content.decode()
    for e in made:
        e.refresh_from_db()
        assert (e.reviewer, e.review_state) == (bob, "in_review")
    events_ = AuditEvent.objects.filter(action=AuditEvent.Action.ASSIGN_EXAM)
    assert sorted(int(a.object_id) for a in events_) == sorted(e.pk for e in made)
    assert all(a.detail["reviewer"] == bob.pk for a in events_)
    assert sorted(emitted) == sorted((events.EXAM_ASSIGNED, e.pk) for e in made)


def test_another_institutions_exams_are_left_alone(client, trio, northside, southside):
    alice, bob, charlie = trio
    theirs = exam(southside, charlie)
    ours = exam(northside, alice)
    client.force_login(bob)
    response = client.post(
        reverse("worklist-assign"),
        {"action": "assign_me", "exam": [theirs.pk, ours.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "1 exam assigned." in html and "1 exam was not assigned." in html
    theirs.refresh_from_db()
    assert theirs.reviewer is None
    assert not AuditEvent.objects.filter(object_id=str(theirs.pk)).exists()


def test_an_admin_assigns_to_a_reviewer_and_a_reviewer_may_not(client, trio, northside):
    alice, bob, _ = trio
    made = exam(northside, alice)
    client.force_login(bob)
    client.post(
        reverse("worklist-assign"), {"action": "assign_to", "reviewer": alice.pk, "exam": made.pk}
    )
    made.refresh_from_db()
    assert made.reviewer is None
    client.force_login(alice)
    client.post(
        reverse("worklist-assign"), {"action": "assign_to", "reviewer": bob.pk, "exam": made.pk}
    )
    made.refresh_from_db()
    assert made.reviewer == bob


def test_unassign_leaves_signed_exams_with_their_reviewer(client, trio, northside):
    alice, bob, _ = trio
    open_ = exam(northside, alice, reviewer=bob, review_state="in_review")
    signed = exam(northside, alice, reviewer=bob, review_state="signed", signed_at=timezone.now())
    client.force_login(bob)
    response = client.post(
        reverse("worklist-assign"),
        {"action": "unassign", "exam": [open_.pk, signed.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert "1 exam unassigned." in html and "1 exam was not unassigned." in html
    open_.refresh_from_db()
    signed.refresh_from_db()
    assert (open_.reviewer, open_.review_state) == (None, "new")
    assert signed.reviewer == bob


def test_a_clinician_cannot_assign_in_bulk(client, trio, southside):
    alice, _, charlie = trio
    made = exam(southside, alice)
    client.force_login(alice)
    in_southside(client)
    response = client.post(reverse("worklist-assign"), {"action": "assign_me", "exam": made.pk})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "data",
    [
        {"action": "explode", "exam": "1"},
        {"action": "assign_me"},
        {"action": "assign_me", "exam": ["x", "-1", "9" * 40, "\x00"]},
        {"action": "assign_to", "exam": "1", "reviewer": "abc"},
        {"action": "assign_me", "exam": [str(n) for n in range(1, 300)]},
    ],
)
def test_hostile_bulk_posts_are_refused_in_words(client, trio, northside, data):
    exam(northside, trio[0])
    client.force_login(trio[1])
    response = client.post(reverse("worklist-assign"), data)
    assert response.status_code == 302
    assert not Exam.objects.filter(reviewer=trio[1]).exists()


def test_the_worklist_rows_carry_checkboxes_labelled_with_the_exam(client, trio, northside):
    made = exam(northside, trio[0], patient_name="Ann Smith")
    client.force_login(trio[1])
    html = client.get(URL).content.decode()
    assert f'value="{made.pk}" form="bulk-form"' in html
    assert 'aria-label="Select the exam of Ann Smith' in html


# --- Next / previous from the exam page --------------------------------------------------


def three_new(northside, alice, ago):
    return [
        exam(northside, alice, patient_name=f"Pat {name}", submitted=ago(hours=hours))
        for name, hours in [("Newest", 1), ("Middle", 2), ("Oldest", 3)]
    ]


def test_the_exam_page_shows_its_place_in_the_worklist(client, trio, northside, ago):
    alice, bob, _ = trio
    newest, middle, oldest = three_new(northside, alice, ago)
    exam(northside, alice, review_state="signed", submitted=ago(minutes=90))
    client.force_login(bob)
    query = "review_state=new"
    response = client.get(reverse("exam-detail", args=[middle.pk]), {"from": query})
    reading = response.context["reading"]
    assert (reading["position"], reading["total"]) == (2, 3)
    assert reading["previous_url"] == f"/exams/{newest.pk}/?from=review_state%3Dnew"
    assert reading["next_url"] == f"/exams/{oldest.pk}/?from=review_state%3Dnew"
    html = response.content.decode()
    assert "Exam 2 of 3" in html and "Next exam →" in html
    # The worklist links to the exam with its query.
    page = client.get(URL, {"review_state": "new"}).content.decode()
    assert f"/exams/{middle.pk}/?from=review_state%3Dnew" in page


def test_the_neighbours_follow_the_sort(client, trio, northside, ago):
    alice, bob, _ = trio
    newest, middle, oldest = three_new(northside, alice, ago)
    client.force_login(bob)
    response = client.get(reverse("exam-detail", args=[middle.pk]), {"from": "sort=-patient"})
    reading = response.context["reading"]
    # Z to A: Pat Oldest, Pat Newest, Pat Middle
    assert reading["previous_url"].startswith(f"/exams/{newest.pk}/")
    assert reading["next_url"] is None


@pytest.mark.parametrize(
    "value",
    [
        "review_state=<script>",
        "sort=password&size=100000",
        "after=!!!&before=xx",
        "operator=1&operator=2&reviewer=99999999999999999999999",
        "%zz%00=\x00",
        "q=" + "a" * 10_000,
        "from=from=from",
    ],
)
def test_a_hostile_from_is_ignored_never_a_500(client, trio, northside, value):
    made = exam(northside, trio[0])
    client.force_login(trio[1])
    response = client.get(reverse("exam-detail", args=[made.pk]), {"from": value})
    assert response.status_code == 200


def test_the_neighbours_never_cross_institutions(client, trio, northside, southside, ago):
    alice, bob, charlie = trio
    ours = exam(northside, alice, submitted=ago(hours=2))
    exam(southside, charlie, submitted=ago(hours=1))
    exam(southside, charlie, submitted=ago(hours=3))
    client.force_login(bob)
    reading = client.get(reverse("exam-detail", args=[ours.pk]), {"from": ""}).context["reading"]
    assert (reading["previous_url"], reading["next_url"]) == (None, None)
    assert (reading["position"], reading["total"]) == (1, 1)


# --- Sign and next; missing captures ----------------------------------------------------


def ready_to_sign(made):
    other = ExamType.objects.get(institution_id=made.institution_id, code="other")
    Exam.objects.filter(pk=made.pk).update(exam_type=other, exam_type_confirmed=True)
    Findings.objects.create(
        institution_id=made.institution_id,
        exam=made,
        template=other.current_template(),
        impression="Normal study.",
    )
    return made


def test_sign_and_next_goes_to_the_next_exam_that_needs_review(client, trio, northside, ago):
    alice, bob, _ = trio
    newest, middle, oldest = three_new(northside, alice, ago)
    Exam.objects.filter(pk=middle.pk).update(review_state="signed")
    ready_to_sign(newest)
    client.force_login(bob)
    response = client.post(
        reverse("exam-sign", args=[newest.pk]), {"then": "next", "from": "sort=-submitted"}
    )
    assert response.status_code == 302
    assert response.url == f"/exams/{oldest.pk}/"  # the default sort is left out of "from"
    newest.refresh_from_db()
    assert newest.review_state == "signed"


def test_sign_and_next_at_the_end_goes_back_to_the_worklist(client, trio, northside, ago):
    alice, bob, _ = trio
    only = ready_to_sign(exam(northside, alice))
    client.force_login(bob)
    response = client.post(
        reverse("exam-sign", args=[only.pk]),
        {"then": "next", "from": "review_state=new"},
        follow=True,
    )
    assert response.redirect_chain[0][0] == "/worklist/?review_state=new"
    assert "No other exam of this list needs review." in response.content.decode()


def missing(made, states):
    submission = made.submissions.get()
    for position, state in enumerate(states, start=10):
        Capture.objects.create(
            institution_id=made.institution_id,
            exam=made,
            submission=submission,
            position=position,
            source_url="https://example.invalid/",
            state=state,
        )


def test_signing_waits_for_missing_captures_unless_confirmed(client, trio, northside):
    alice, bob, _ = trio
    made = ready_to_sign(exam(northside, alice))
    missing(made, [Capture.State.PENDING, Capture.State.FAILED])
    client.force_login(bob)
    response = client.post(reverse("exam-sign", args=[made.pk]), follow=True)
    html = response.content.decode()
    assert "2 captures of this exam are not downloaded yet (1 failed)" in html
    made.refresh_from_db()
    assert made.review_state != "signed"

    client.post(reverse("exam-sign", args=[made.pk]), {"sign_without_missing_captures": "1"})
    made.refresh_from_db()
    assert made.review_state == "signed"
    event = AuditEvent.objects.get(action=AuditEvent.Action.SIGN_FINDINGS)
    assert event.detail["missing_captures"] == 2


def test_the_api_refuses_to_sign_with_missing_captures_unless_told(client, trio, northside):
    alice, bob, _ = trio
    made = ready_to_sign(exam(northside, alice))
    missing(made, [Capture.State.FAILED])
    client.force_login(bob)
    url = f"/api/v1/exams/{made.pk}/sign/"
    refused = client.post(url, {}, content_type="application/json")
    assert refused.status_code == 409
    assert "1 capture of this exam could not be downloaded" in refused.json()["detail"]
    bad = client.post(
        url, {"sign_without_missing_captures": "maybe"}, content_type="application/json"
    )
    assert bad.status_code == 400
    signed = client.post(
        url, {"sign_without_missing_captures": True}, content_type="application/json"
    )
    assert signed.status_code == 201
    event = AuditEvent.objects.get(action=AuditEvent.Action.SIGN_FINDINGS)
    assert event.detail["missing_captures"] == 1


def test_signing_with_every_capture_downloaded_needs_no_confirmation(client, trio, northside):
    made = ready_to_sign(make_exam(northside, trio[0], captures=2))
    client.force_login(trio[1])
    client.post(reverse("exam-sign", args=[made.pk]))
    made.refresh_from_db()
    assert made.review_state == "signed"
    assert "missing_captures" not in AuditEvent.objects.get(action="sign_findings").detail


def test_the_query_string_round_trips(client, trio, northside):
    client.force_login(trio[1])
    response = client.get(URL, {"review_state": "new", "submitted_from": "2026-01-02", "size": 50})
    saved = response.context["from_query"]
    assert parse_qs(saved) == {
        "review_state": ["new"],
        "submitted_from": ["2026-01-02"],
        "size": ["50"],
    }
    assert urlparse("/?" + saved).query == saved


def test_the_sign_page_says_what_is_missing_and_asks_to_confirm(client, trio, northside):
    alice, bob, _ = trio
    made = ready_to_sign(exam(northside, alice))
    missing(made, [Capture.State.PENDING, Capture.State.PENDING, Capture.State.FAILED])
    client.force_login(bob)
    template = Findings.objects.get(exam=made).template_id
    data = {"exam_type": "other", "worksheet": template, "impression": "Normal study."}
    response = client.post(
        reverse("exam-review", args=[made.pk]), {**data, "from": "review_state=new"}
    )
    assert response.status_code == 200, response.content.decode()[:2000]
    html = response.content.decode()
    assert "3 captures of this exam are not downloaded yet (1 failed)." in html
    assert 'name="sign_without_missing_captures" value="1" required' in html
    assert 'name="from" value="review_state=new"' in html
    assert "and next</button>" in html


@pytest.mark.parametrize(
    "value", ["sort=<x>&size=999999", "review_state=" + "x" * 3000, "operator=abc&after=!!"]
)
def test_sign_and_next_with_a_hostile_from_goes_on_in_the_default_list(
    client, trio, northside, ago, value
):
    alice, bob, _ = trio
    newest, middle, oldest = three_new(northside, alice, ago)
    ready_to_sign(newest)
    client.force_login(bob)
    response = client.post(reverse("exam-sign", args=[newest.pk]), {"then": "next", "from": value})
    assert response.status_code == 302
    assert response.url == f"/exams/{middle.pk}/"


def test_assign_to_me_on_the_exam_page_keeps_the_list(client, trio, northside):
    made = exam(northside, trio[0])
    client.force_login(trio[1])
    page = client.get(reverse("exam-detail", args=[made.pk]), {"from": "sort=patient"})
    html = page.content.decode()
    assert 'name="from" value="sort=patient"' in html
    assert "js/reading.js" in html and 'id="shortcuts-dialog"' in html
    response = client.post(reverse("exam-assign", args=[made.pk]), {"from": "sort=patient"})
    assert response.url == f"/exams/{made.pk}/?from=sort%3Dpatient"
