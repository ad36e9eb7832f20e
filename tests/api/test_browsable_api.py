"""The browsable API's pages (portal/api/renderers.py): each repair of REST framework's
HTML still finds what it mends, and JSON stays JSON."""

from django.urls import reverse

from portal.api.renderers import REPAIRS


def test_every_repair_applies_to_the_exam_list_page(login, exams):
    response = login("bob").get(reverse("api-exam-list"), HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    html = response.content.decode()
    for old, new in REPAIRS:
        assert old not in html, f"not mended: {old}"
        assert new in html
    assert html.count('role="main"') == 1
    assert '<nav aria-label="Breadcrumbs">' in html
    assert "Clarius portal API" in html


def test_json_is_untouched(login, exams):
    response = login("bob").get(reverse("api-exam-list"), HTTP_ACCEPT="application/json")
    assert response["Content-Type"].startswith("application/json")
    assert "results" in response.json()
