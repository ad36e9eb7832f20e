"""A member's name, typed by the member, is shown to others cleaned and isolated."""

import pytest
from django.urls import reverse

from portal.tenants.models import Membership

pytestmark = pytest.mark.django_db


def test_it_stores_a_full_name_without_control_or_bidi_characters(bob):
    bob.full_name = "Bob\u202e \x00Reviewer\n"
    bob.save()
    bob.refresh_from_db()
    assert bob.full_name == "Bob Reviewer"


def test_the_member_pages_show_names_isolated(client, alice, bob, northside):
    # A name stored before names were cleaned (or written around the model).
    type(bob).objects.filter(pk=bob.pk).update(full_name="Bob \u202eReviewer")
    client.force_login(alice)
    membership = Membership.objects.get(user=bob, institution=northside)
    for url in (reverse("member-list"), reverse("member-detail", args=[membership.pk])):
        body = client.get(url).content.decode()
        assert "<bdi>Bob Reviewer</bdi>" in body, url
        assert "\u202e" not in body, url
