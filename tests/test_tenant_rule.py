"""The tenant rule: every tenant-owned model and view goes through portal.tenants.scoping."""

import pytest
from django.apps import apps
from django.urls import reverse

from portal.tenants.models import Institution, Membership
from portal.tenants.scoping import TenantOwned, TenantQuerySet, get_scoped_or_404


def tenant_owned_models():
    for model in apps.get_models():
        if model._meta.app_label in {
            "admin",
            "auth",
            "contenttypes",
            "sessions",
            "axes",
            "django_q",
        }:
            continue
        for field in model._meta.get_fields():
            if getattr(field, "related_model", None) is Institution and field.concrete:
                yield model
                break


def test_there_are_tenant_owned_models():
    assert Membership in set(tenant_owned_models())


@pytest.mark.parametrize("model", list(tenant_owned_models()), ids=lambda m: m.__name__)
def test_every_model_with_an_institution_goes_through_the_tenant_rule(model):
    assert issubclass(model, TenantOwned), f"{model.__name__} must subclass TenantOwned"
    assert isinstance(model._default_manager.all(), TenantQuerySet)
    assert model._meta.get_field("institution").null is False


def test_no_institution_means_no_rows(trio):
    assert not Membership.objects.for_institution(None).exists()


# Who sees whom: (viewer, current institution) -> emails listed; ``None``: a 404, as the
# members pages are for the current institution's administrators only.
MATRIX = [
    ("alice", "northside", {"alice@example.org", "bob@example.org"}),
    ("alice", "southside", None),  # a clinician there
    ("bob", "northside", None),  # a reviewer
    ("charlie", "southside", {"alice@example.org", "charlie@example.org"}),
]


@pytest.mark.parametrize(("viewer", "slug", "visible"), MATRIX)
def test_the_member_list_shows_only_the_current_institution(client, trio, viewer, slug, visible):
    users = dict(zip(["alice", "bob", "charlie"], trio, strict=True))
    client.force_login(users[viewer])
    if slug == "southside" and viewer == "alice":
        client.post(reverse("switch-institution"), {"institution": "southside"})
    response = client.get(reverse("member-list"))
    if visible is None:
        assert response.status_code == 404
    else:
        assert {m.user.email for m in response.context["members"]} == visible


@pytest.mark.parametrize(
    ("viewer", "owner_slug", "status"),
    [
        ("alice", "northside", 200),
        ("alice", "southside", 404),  # a member of both, but working in Northside
        ("bob", "northside", 404),  # not an administrator
        ("bob", "southside", 404),
        ("charlie", "northside", 404),
        ("charlie", "southside", 200),
    ],
)
def test_another_institutions_member_is_a_404(client, trio, viewer, owner_slug, status):
    users = dict(zip(["alice", "bob", "charlie"], trio, strict=True))
    target = Membership.objects.filter(institution__slug=owner_slug).exclude(user=users["alice"])
    client.force_login(users[viewer])
    response = client.get(reverse("member-detail", args=[target.first().pk]))
    assert response.status_code == status


def test_anonymous_visitors_see_no_member_pages(client, trio):
    membership = Membership.objects.first()
    for url in [reverse("member-list"), reverse("member-detail", args=[membership.pk])]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("login"))


def test_the_helper_refuses_models_that_are_not_tenant_owned(rf, trio):
    request = rf.get("/")
    request.institution = trio[0].memberships.first().institution
    with pytest.raises(TypeError, match="not tenant-owned"):
        get_scoped_or_404(Institution, request, pk=1)
