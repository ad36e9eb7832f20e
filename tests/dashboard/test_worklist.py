import base64
from urllib.parse import parse_qs, urlparse

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.exams.models import Exam
from tests.conftest import make_user
from tests.dashboard.conftest import animal, exam, in_southside

URL = "/worklist/"


def rows(response):
    return [e.pk for e in response.context["page"].rows]


def next_params(response):
    return {
        k: v[0] for k, v in parse_qs(urlparse(response.context["page_links"]["next"]).query).items()
    }


def test_it_is_at_worklist_and_needs_a_login(client, db):
    assert reverse("worklist") == URL
    response = client.get(URL)
    assert response.status_code == 302
    assert "/accounts/login/" in response.url


def test_a_reviewer_sees_every_exam_of_the_institution_newest_first(
    client, trio, northside, southside, ago
):
    alice, bob, charlie = trio
    old = exam(northside, alice, submitted=ago(days=2))
    new = exam(northside, None, submitted=ago(hours=1))
    exam(southside, charlie)
    client.force_login(bob)
    assert rows(client.get(URL)) == [new.pk, old.pk]


def test_a_clinician_sees_only_the_exams_they_performed(client, trio, southside):
    alice, bob, charlie = trio
    mine = exam(southside, alice, patient_name="Mine Only")
    exam(southside, charlie, patient_name="Not Mine")
    client.force_login(alice)
    in_southside(client)
    response = client.get(URL)
    assert rows(response) == [mine.pk]
    html = response.content.decode()
    assert "Not Mine" not in html
    assert "Assign to me" not in html  # clinicians do not review
    assert "operator" not in response.context["form"].fields


def test_charlie_never_sees_northside_exams(client, trio, northside):
    exam(northside, trio[0], patient_name="Secret Northsider")
    client.force_login(trio[2])
    response = client.get(URL + "?q=Secret")
    assert rows(response) == []
    assert "Secret Northsider" not in response.content.decode()


def test_a_filter_by_another_institutions_member_finds_nothing(client, trio, northside, southside):
    alice, bob, charlie = trio
    exam(southside, charlie)
    client.force_login(bob)
    response = client.get(URL, {"operator": charlie.pk})
    assert rows(response) == []
    assert "operator" in response.context["form"].errors  # not a choice here


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"review_state": "new"}, {"new", "incomplete", "animal"}),
        ({"review_state": "signed"}, {"signed"}),
        ({"status": "incomplete"}, {"incomplete"}),
        ({"reviewer": "me"}, {"mine"}),
        ({"reviewer": "none"}, {"new", "incomplete", "animal"}),
        ({"q": "MRN-"}, {"new", "signed", "incomplete", "mine", "animal"}),
        ({"q": "smith"}, {"signed"}),
        ({"q": "ann smith"}, {"signed"}),
        ({"q": "smith bob"}, set()),
        ({"q": "rex"}, {"animal"}),
        ({}, {"new", "signed", "incomplete", "mine", "animal"}),
    ],
)
def test_it_filters_and_searches(client, trio, northside, params, expected):
    alice, bob, charlie = trio
    made = {
        "new": exam(northside, alice),
        "signed": exam(
            northside, alice, patient_name="Ann Smith", review_state="signed", reviewer=alice
        ),
        "incomplete": exam(northside, alice, status=Exam.Status.INCOMPLETE),
        "mine": exam(northside, alice, review_state="in_review", reviewer=bob),
        "animal": animal(exam(northside, alice), "Rex"),
    }
    names = {pk: name for name, pk in ((n, e.pk) for n, e in made.items())}
    client.force_login(bob)
    response = client.get(URL, params)
    assert {names[pk] for pk in rows(response)} == expected


def test_it_searches_by_the_exact_patient_identifier(client, trio, northside):
    target = exam(northside, trio[0])
    for _ in range(3):
        exam(northside, trio[0])
    client.force_login(trio[1])
    assert rows(client.get(URL, {"q": f"MRN-{target.pk}"})) == [target.pk]


def test_it_filters_by_operator_and_reviewer(client, trio, northside):
    alice, bob, _ = trio
    dana = make_user("dana@example.org", "Dana Doctor")
    northside.memberships.create(user=dana, role="clinician")
    by_dana = exam(northside, dana, reviewer=alice)
    exam(northside, alice, reviewer=bob)
    client.force_login(bob)
    assert rows(client.get(URL, {"operator": dana.pk})) == [by_dana.pk]
    assert rows(client.get(URL, {"reviewer": alice.pk})) == [by_dana.pk]


def test_it_filters_by_the_submission_date(client, trio, northside, ago):
    today = exam(northside, trio[0], submitted=ago(minutes=5))
    last_week = exam(northside, trio[0], submitted=ago(days=7))
    exam(northside, trio[0], submitted=ago(days=40))
    client.force_login(trio[1])
    day = timezone.localdate(ago(days=7))
    assert rows(client.get(URL, {"submitted_from": day, "submitted_to": day})) == [last_week.pk]
    assert rows(client.get(URL, {"submitted_from": timezone.localdate(ago(days=8))})) == [
        today.pk,
        last_week.pk,
    ]


def test_a_reversed_date_range_is_an_error_not_a_crash(client, trio, northside, ago):
    exam(northside, trio[0])
    client.force_login(trio[1])
    response = client.get(URL, {"submitted_from": "2026-02-01", "submitted_to": "2026-01-01"})
    assert response.status_code == 200
    assert "submitted_to" in response.context["form"].errors


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01"])
def test_a_day_at_the_end_of_the_calendar_is_a_form_error_not_a_crash(client, trio, northside, day):
    exam(northside, trio[0])
    client.force_login(trio[1])
    response = client.get(URL, {"submitted_from": day, "submitted_to": day})
    assert response.status_code == 200
    assert "Choose a day between 1900 and 2999" in str(response.context["form"].errors)


def test_nonsense_parameters_fall_back_to_the_defaults(client, trio, northside):
    made = exam(northside, trio[0])
    client.force_login(trio[1])
    response = client.get(URL, {"sort": "password", "size": "100000", "review_state": "x"})
    assert response.status_code == 200
    assert rows(response) == [made.pk]


def b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


HOSTILE_CURSORS = {
    "not base64": "!!notbase64",
    "not json": b64("not json"),
    "nested": b64("[" * 1500 + "]" * 1500),
    "nested, unclosed": b64("[" * 1500),
    "infinite time": b64('["2026-01-01T00:00:00+00:00",1e999]'),
    "infinite id": b64('["2026-01-01T00:00:00+00:00",-Infinity]'),
    "nan": b64('["2026-01-01T00:00:00+00:00",NaN]'),
    "huge id": b64(f'["2026-01-01T00:00:00+00:00",{10**30}]'),
    "float id": b64('["2026-01-01T00:00:00+00:00",1.5]'),
    "boolean id": b64('["2026-01-01T00:00:00+00:00",true]'),
    "naive time": b64('["2026-01-01T00:00:00",1]'),
    "time overflowing": b64('["9999-12-31T23:59:59-23:59",1]'),
    "too short": b64("[1]"),
    "too long": b64('["2026-01-01T00:00:00+00:00",1,2]'),
    "object": b64('{"a":1}'),
    "very long": "A" * 100_000,
}


@pytest.mark.parametrize("name", HOSTILE_CURSORS)
@pytest.mark.parametrize("direction", ["after", "before"])
def test_a_malformed_or_tampered_cursor_is_a_400_with_a_way_back(
    client, trio, northside, name, direction
):
    exam(northside, trio[0])
    client.force_login(trio[1])
    response = client.get(URL, {"review_state": "new", direction: HOSTILE_CURSORS[name]})
    assert response.status_code == 400
    html = response.content.decode()
    assert "no longer valid" in html
    assert 'href="/worklist/?review_state=new"' in html


def test_a_cursor_of_another_sort_is_a_400(client, trio, northside):
    exam(northside, trio[0])
    client.force_login(trio[1])
    cursor = b64('["2026-01-01T00:00:00+00:00",1]')  # made for -submitted
    assert client.get(URL, {"sort": "state", "after": cursor}).status_code == 400  # 3 keys
    assert client.get(URL, {"sort": "-submitted", "after": cursor}).status_code == 200


def test_an_empty_cursor_is_the_first_page(client, trio, northside):
    made = exam(northside, trio[0])
    client.force_login(trio[1])
    response = client.get(URL, {"after": "", "before": ""})
    assert response.status_code == 200
    assert rows(response) == [made.pk]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("-submitted", ["c", "b2", "b1", "a"]),
        # A tie is broken by the id in the direction of the sort (an index read backwards).
        ("submitted", ["a", "b1", "b2", "c"]),
        ("patient", ["a", "c", "b1", "b2"]),  # Adams, Rex (animal), Young, Young
        ("-patient", ["b2", "b1", "c", "a"]),
        ("state", ["c", "b2", "b1", "a"]),  # new, in review (newest first), reported
        ("-state", ["a", "b2", "b1", "c"]),
    ],
)
def test_it_sorts_with_a_stable_tie_break(client, trio, northside, ago, sort, expected):
    alice = trio[0]
    tie = ago(days=1)
    made = {
        "a": exam(
            northside,
            alice,
            patient_name="Zed Adams",
            submitted=ago(days=3),
            review_state="reported",
        ),
        "b1": exam(
            northside, alice, patient_name="Al Young", submitted=tie, review_state="in_review"
        ),
        "b2": exam(
            northside, alice, patient_name="Al Young", submitted=tie, review_state="in_review"
        ),
        "c": animal(exam(northside, alice, submitted=ago(hours=1)), "Rex"),
    }
    names = {e.pk: n for n, e in made.items()}
    client.force_login(trio[1])
    response = client.get(URL, {"sort": sort})
    assert [names[pk] for pk in rows(response)] == expected


def test_sort_links_toggle_the_direction_and_keep_the_filters(client, trio, northside):
    exam(northside, trio[0])
    client.force_login(trio[1])
    response = client.get(URL, {"sort": "patient", "review_state": "new"})
    links = response.context["sort_links"]
    assert "sort=-patient" in links["patient"]["url"]
    assert links["patient"]["aria_sort"] == "ascending"
    assert "review_state=new" in links["submitted"]["url"]
    assert 'aria-sort="ascending"' in response.content.decode()


@pytest.mark.parametrize(
    "sort", ["-submitted", "submitted", "patient", "-patient", "state", "-state"]
)
def test_paging_walks_every_exam_once_forwards_and_back(client, trio, northside, ago, sort):
    alice = trio[0]
    states = ["new", "in_review", "signed", "reported"]
    for i in range(23):
        # Duplicate times, names and states, so every tie-break is exercised.
        exam(
            northside,
            alice,
            patient_name=f"Pat {'ABC'[i % 3]}",
            submitted=ago(hours=i // 2),
            review_state=states[i % 4],
        )
    client.force_login(trio[1])
    everything = rows(client.get(URL, {"sort": sort, "size": 100}))
    assert len(everything) == 23
    pages, params = [], {"sort": sort, "size": 10}
    while True:
        response = client.get(URL, params)
        pages.append(rows(response))
        if not response.context["page_links"]["next"]:
            break
        params = next_params(response)
    assert [len(p) for p in pages] == [10, 10, 3]
    assert sum(pages, []) == everything
    # And back from the last page with "previous".
    previous = response.context["page_links"]["previous"]
    back = client.get(URL + previous)
    assert rows(back) == pages[1]
    assert response.context["page_links"]["first"]


def test_the_first_page_has_no_previous_link(client, trio, northside):
    exam(northside, trio[0])
    client.force_login(trio[1])
    links = client.get(URL).context["page_links"]
    assert links == {"first": None, "next": None, "previous": None}


def test_an_exam_arriving_while_paging_does_not_shift_the_next_page(client, trio, northside, ago):
    for i in range(20):
        exam(northside, trio[0], submitted=ago(hours=i + 1))
    client.force_login(trio[1])
    first = client.get(URL, {"size": 10})
    expected_second = [e.pk for e in Exam.objects.order_by("-last_submitted_at", "-id")[10:20]]
    exam(northside, trio[0])  # a new exam lands at the top meanwhile
    assert rows(client.get(URL, next_params(first))) == expected_second


def test_paging_never_counts_the_whole_table(client, trio, northside):
    for _ in range(12):
        exam(northside, trio[0])
    client.force_login(trio[1])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(URL, {"size": 10})
    counts = [
        q["sql"].upper() for q in queries.captured_queries if "EXAMS_EXAM" in q["sql"].upper()
    ]
    # The total is a count of at most COUNT_CAP + 1 rows, never of the whole table.
    assert all("LIMIT" in sql for sql in counts if "COUNT(" in sql)
    assert not [sql for sql in counts if "OFFSET" in sql]
    assert response.context["total"] == "12 exams"


def page_queries(client, url, params=None):
    """The queries a worklist page makes, but the site header's (the inbox count)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    own = [q for q in queries.captured_queries if "notifications_" not in q["sql"]]
    return response, own


@pytest.mark.parametrize("size", [10, 50, 100])
def test_a_page_costs_the_same_queries_whatever_its_size(client, trio, northside, size):
    alice, bob, _ = trio
    for i in range(size + 5):
        exam(northside, alice, reviewer=bob if i % 2 else alice, patient_name=f"Pat Number{i}")
    client.force_login(bob)
    client.get(URL, {"size": size, "sort": "patient"})  # warm the session, keep the filters
    # session, user, memberships (middleware); members and exam types (filter choices);
    # the page of exams (with their capture counts); the total (capped)
    response, queries = page_queries(client, URL, {"size": size, "sort": "patient"})
    assert len(queries) == 7, [q["sql"] for q in queries]
    assert len(rows(response)) == size
    following = URL + "?" + "&".join(f"{k}={v}" for k, v in next_params(response).items())
    assert len(page_queries(client, following)[1]) == 7


def test_assign_to_me_posts_to_the_exam_page_action_and_comes_back(client, trio, northside):
    made = exam(northside, trio[0])
    client.force_login(trio[1])
    page = client.get(URL, {"review_state": "new"})
    html = page.content.decode()
    assert reverse("exam-assign", args=[made.pk]) in html
    response = client.post(
        reverse("exam-assign", args=[made.pk]), {"next": "/worklist/?review_state=new"}
    )
    assert response.status_code == 302
    assert response.url == "/worklist/?review_state=new"
    made.refresh_from_db()
    assert made.reviewer == trio[1]
    assert made.review_state == "in_review"


def test_the_assign_button_is_not_offered_for_my_own_or_signed_exams(client, trio, northside):
    bob = trio[1]
    mine = exam(northside, trio[0], reviewer=bob, review_state="in_review")
    signed = exam(northside, trio[0], review_state="signed")
    client.force_login(bob)
    html = client.get(URL).content.decode()
    assert reverse("exam-assign", args=[mine.pk]) not in html
    assert reverse("exam-assign", args=[signed.pk]) not in html


def test_rows_link_to_the_exam_page(client, trio, northside):
    made = exam(northside, trio[0], patient_name="Ann Smith")
    client.force_login(trio[1])
    html = client.get(URL).content.decode()
    assert f'href="/exams/{made.pk}/"' in html
    assert "Ann Smith" in html
    assert f"MRN-{made.pk}" in html


def test_a_user_without_an_institution_is_told_so(client, db):
    client.force_login(make_user("lonely@example.org"))
    response = client.get(URL)
    assert response.status_code == 200
    assert "not a member of any active institution" in response.content.decode()


def test_a_clinician_sees_which_exams_have_feedback_for_them(client, trio, southside):
    from django.utils import timezone

    from portal.reports.models import Findings

    alice, _, charlie = trio
    with_feedback = exam(southside, alice, review_state="signed", signed_at=timezone.now())
    Findings.objects.create(
        institution=southside,
        exam=with_feedback,
        impression="Normal.",
        clinician_feedback="Nice views; angle the probe less next time.",
        signed_at=timezone.now(),
        signed_by=charlie,
    )
    exam(southside, alice)  # not reviewed yet
    client.force_login(alice)
    in_southside(client)
    client.get(URL)
    response, queries = page_queries(client, URL)
    assert len(queries) == 7  # as any worklist page: see the test above
    html = response.content.decode()
    assert html.count("Read it") == 1
    assert f'href="/exams/{with_feedback.pk}/#findings">Read it' in html


def test_it_shows_and_filters_by_exam_type(client, trio, northside, southside):
    from portal.worksheets.models import ExamType

    alice, bob, _ = trio
    lung = ExamType.objects.get(institution=northside, code="lung")
    fast = ExamType.objects.get(institution=northside, code="fast")
    lung_exam = exam(northside, alice, patient_name="Lung Patient")
    lung_exam.exam_type, lung_exam.exam_type_confirmed = lung, True
    lung_exam.save()
    proposed = exam(northside, alice, patient_name="Fast Patient")
    proposed.exam_type = fast
    proposed.save()
    exam(northside, alice, patient_name="Untyped Patient")
    # Southside's own lung type is another row: its exams never show at Northside.
    south = exam(southside, alice, patient_name="South Lung")
    south.exam_type = ExamType.objects.get(institution=southside, code="lung")
    south.save()
    client.force_login(bob)
    html = client.get(URL).content.decode()
    assert "Lung / thoracic" in html or lung.name in html
    assert "(proposed)" in html
    only_lung = client.get(URL, {"exam_type": "lung"}).content.decode()
    assert "Lung Patient" in only_lung
    assert "Fast Patient" not in only_lung and "South Lung" not in only_lung
    untyped = client.get(URL, {"exam_type": "none"}).content.decode()
    assert "Untyped Patient" in untyped and "Lung Patient" not in untyped
    # An unknown code is a form error shown on the page, not a 500.
    response = client.get(URL, {"exam_type": "<script>"})
    assert response.status_code == 200
