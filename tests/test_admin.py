import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from portal.tenants.models import Institution, Membership


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser(email="root@example.org", password="x")


def test_superusers_list_institutions_with_member_counts(client, superuser, trio):
    client.force_login(superuser)
    response = client.get(reverse("admin:tenants_institution_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Northside Clinic" in html and "Southside Hospital" in html


def test_superusers_search_and_filter_institutions(client, superuser, trio):
    client.force_login(superuser)
    url = reverse("admin:tenants_institution_changelist")
    found = client.get(url, {"q": "charlie@example.org"}).context["cl"].result_list
    assert [i.slug for i in found] == ["southside"]
    Institution.objects.filter(slug="southside").update(is_active=False)
    active = client.get(url, {"is_active__exact": "1"}).context["cl"].result_list
    assert [i.slug for i in active] == ["northside"]


def test_the_institution_page_edits_memberships_inline(client, superuser, trio, northside):
    client.force_login(superuser)
    response = client.get(reverse("admin:tenants_institution_change", args=[northside.pk]))
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0]
    assert {f.form.instance.user.email for f in formset if f.form.instance.pk} == {
        "alice@example.org",
        "bob@example.org",
    }


def test_superusers_list_users_and_their_memberships(client, superuser, trio):
    client.force_login(superuser)
    changelist = client.get(
        reverse("admin:accounts_user_changelist"), {"memberships__role": "reviewer"}
    )
    assert [u.email for u in changelist.context["cl"].result_list] == ["bob@example.org"]
    alice = trio[0]
    page = client.get(reverse("admin:accounts_user_change", args=[alice.pk]))
    assert page.status_code == 200
    assert "Southside Hospital" in page.content.decode()


def test_superusers_create_users_by_email(client, superuser):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:accounts_user_add"),
        {
            "email": "New@Example.org",
            "usable_password": "true",
            "password1": "a-long-passphrase",
            "password2": "a-long-passphrase",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    assert get_user_model().objects.filter(email__iexact="new@example.org").exists()


def test_institution_members_are_not_admin_users(client, trio):
    client.force_login(trio[0])
    response = client.get(reverse("admin:tenants_institution_changelist"))
    assert response.status_code == 302
    assert Membership.objects.count() == 4
