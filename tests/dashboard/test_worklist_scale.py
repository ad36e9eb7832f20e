"""The worklist, the API's exam list and the dashboard cost the same number of queries
whatever the number of exams, the sort or the page (bench/bench_worklist.py measures the
time at 100,000 and 1,000,000 exams)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portal.dashboard.queries import SORTS
from tests.dashboard.conftest import exam

pytestmark = pytest.mark.django_db


def queries_of(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200
    # The write that remembers a member's new filters happens once per change only.
    return len([q for q in captured.captured_queries if "worklist_query" not in q["sql"]])


def counts(client, url):
    found = {}
    for sort in SORTS:
        found[sort] = queries_of(client, url, {"sort": sort, "size": 10})
    return found


def test_queries_per_page_do_not_grow_with_the_exams(client, trio, northside, ago):
    alice, bob, _ = trio
    client.force_login(bob)
    exam(northside, alice, submitted=ago(days=1))
    few = counts(client, "/worklist/") | {"dashboard": queries_of(client, "/")}
    for n in range(30):
        exam(northside, alice, submitted=ago(hours=n), review_state=["new", "signed"][n % 2])
    many = counts(client, "/worklist/") | {"dashboard": queries_of(client, "/")}
    assert few == many
    assert len({n for sort, n in many.items() if sort != "dashboard"}) == 1


def test_every_page_of_every_sort_costs_the_same(client, trio, northside, ago):
    alice, bob, _ = trio
    for n in range(25):
        exam(northside, alice, submitted=ago(hours=n), patient_name=f"Pat Name{n % 7}")
    client.force_login(bob)
    for sort in SORTS:
        first = client.get("/worklist/", {"sort": sort, "size": 10}).context["page"]
        second = client.get(
            "/worklist/", {"sort": sort, "size": 10, "after": first.next_cursor}
        ).context["page"]
        assert queries_of(client, "/worklist/", {"sort": sort, "size": 10}) == queries_of(
            client, "/worklist/", {"sort": sort, "size": 10, "after": second.next_cursor}
        )


def test_the_api_list_costs_the_same_whatever_the_number_of_exams_and_the_sort(
    client, trio, northside, ago
):
    alice, bob, _ = trio
    client.force_login(bob)
    exam(northside, alice, submitted=ago(days=1))
    few = {sort: queries_of(client, "/api/v1/exams/", {"sort": sort}) for sort in SORTS}
    for n in range(30):
        exam(northside, alice, submitted=ago(hours=n), review_state=["new", "signed"][n % 2])
    many = {sort: queries_of(client, "/api/v1/exams/", {"sort": sort}) for sort in SORTS}
    assert few == many
    assert len(set(many.values())) == 1
