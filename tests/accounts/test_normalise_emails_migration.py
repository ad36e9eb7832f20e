"""The data migration that gives existing accounts the one normalised spelling."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model

from tests.conftest import make_user

migration = importlib.import_module("portal.accounts.migrations.0002_normalise_emails")


def stored_as(user, email):
    """Put back an address as an older version of the portal could have stored it."""
    get_user_model().objects.filter(pk=user.pk).update(email=email)


def emails():
    return sorted(get_user_model().objects.values_list("email", flat=True))


def test_it_normalises_the_stored_addresses(db):
    stored_as(make_user("a@example.org"), "ｒｉｔａ@alpha.example")
    stored_as(make_user("b@example.org"), "Straße@Example.org")
    make_user("bob@example.org")
    migration.normalise(apps, None)
    assert emails() == ["bob@example.org", "rita@alpha.example", "strasse@example.org"]


def test_it_changes_nothing_and_names_the_accounts_when_two_would_collide(db):
    first = make_user("strasse@example.org")
    second = make_user("b@example.org")
    stored_as(second, "Straße@example.org")
    stored_as(make_user("c@example.org"), "ＡＢ@example.org")
    before = emails()
    with pytest.raises(migration.EmailCollision) as raised:
        migration.normalise(apps, None)
    message = str(raised.value)
    assert f"user {first.pk} <strasse@example.org>" in message
    assert f"user {second.pk} <Straße@example.org>" in message
    assert "ab@example.org" not in message  # only the colliding ones are named
    assert emails() == before  # not even the harmless one was changed


def test_a_look_alike_that_is_another_address_is_not_a_collision(db):
    make_user("rita@alpha.example")
    stored_as(make_user("x@example.org"), "RıTA@alpha.example")
    migration.normalise(apps, None)
    assert emails() == ["rita@alpha.example", "rıta@alpha.example"]
