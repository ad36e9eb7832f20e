from django.urls import reverse


def switch(client, slug, next_url="/"):
    return client.post(reverse("switch-institution"), {"institution": slug, "next": next_url})


def test_a_member_of_several_institutions_starts_in_the_first_by_name(client, alice):
    client.force_login(alice)
    response = client.get(reverse("home"))
    assert response.context["current_institution"].slug == "northside"
    html = response.content.decode()
    assert 'name="institution"' in html  # the switcher is in the header
    assert "Southside Hospital" in html


def test_it_switches_the_current_institution(client, alice):
    client.force_login(alice)
    response = switch(client, "southside")
    assert response.status_code == 302
    page = client.get(reverse("home"))
    assert page.context["current_institution"].slug == "southside"
    assert page.context["current_membership"].role == "clinician"


def test_it_refuses_an_institution_the_user_is_not_a_member_of(client, bob, southside):
    client.force_login(bob)
    assert switch(client, "southside").status_code == 404
    assert switch(client, "no-such-place").status_code == 404
    assert client.get(reverse("home")).context["current_institution"].slug == "northside"


def test_it_only_switches_with_a_post(client, alice):
    client.force_login(alice)
    assert (
        client.get(reverse("switch-institution"), {"institution": "southside"}).status_code == 405
    )


def test_it_does_not_redirect_off_site(client, alice):
    client.force_login(alice)
    response = switch(client, "southside", next_url="https://evil.example/")
    assert response.url == reverse("home")


def test_it_returns_to_the_page_the_switch_was_made_from(client, alice):
    client.force_login(alice)
    assert switch(client, "southside", next_url="/institution/members/").url == (
        "/institution/members/"
    )


def test_a_deactivated_institution_drops_out_of_the_switcher(client, alice, northside):
    client.force_login(alice)
    northside.is_active = False
    northside.save()
    page = client.get(reverse("home"))
    assert page.context["current_institution"].slug == "southside"
    assert switch(client, "northside").status_code == 404


def test_a_user_without_institutions_is_told_so(client, db):
    from tests.conftest import make_user

    client.force_login(make_user("lonely@example.org"))
    page = client.get(reverse("home"))
    assert page.status_code == 200
    assert "not a member of any active institution" in page.content.decode()
