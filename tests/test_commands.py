from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from portal.tenants.models import Institution, Membership
from tests.subprocesses import clean_env, run_manage


def call(*args, **kwargs):
    out = StringIO()
    call_command(*args, stdout=out, **kwargs)
    return out.getvalue()


def test_it_creates_an_institution_and_prints_its_slug_last(db):
    output = call("institution", "create", "St. Mary's  Hospital")
    institution = Institution.objects.get()
    assert institution.name == "St. Mary's Hospital"
    assert output.split()[-1] == institution.slug == "st-marys-hospital"


def test_it_refuses_a_duplicate_name_whatever_its_case(db):
    call("institution", "create", "Northside Clinic")
    with pytest.raises(CommandError, match='"northside clinic" already exists'):
        call("institution", "create", "northside clinic")
    assert Institution.objects.count() == 1


def test_it_gives_similar_names_distinct_slugs(db):
    call("institution", "create", "Northside Clinic")
    output = call("institution", "create", "Northside Clinic!")
    assert output.split()[-1] == "northside-clinic-2"


def test_it_refuses_an_empty_name(db):
    with pytest.raises(CommandError, match="needs a name"):
        call("institution", "create", "   ")


def test_it_adds_a_new_member_with_the_password_from_the_environment(northside, monkeypatch):
    monkeypatch.setenv("PORTAL_MEMBER_PASSWORD", "a-long-enough-password")
    output = call(
        "member", "add", "northside", "Dana@Example.org", "--role", "reviewer", "--no-input"
    )
    user = get_user_model().objects.get()
    assert user.email == "dana@example.org"
    assert user.check_password("a-long-enough-password")
    assert Membership.objects.get(user=user, institution=northside).role == "reviewer"
    assert "Created user dana@example.org as reviewer of northside" in output


def test_it_needs_the_password_variable_without_input(northside, monkeypatch):
    monkeypatch.delenv("PORTAL_MEMBER_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="set PORTAL_MEMBER_PASSWORD"):
        call("member", "add", "northside", "dana@example.org", "--role", "reviewer", "--no-input")
    assert not get_user_model().objects.exists()


def test_it_refuses_a_weak_password(northside, monkeypatch):
    monkeypatch.setenv("PORTAL_MEMBER_PASSWORD", "123")
    with pytest.raises(CommandError, match="Password refused"):
        call("member", "add", "northside", "dana@example.org", "--role", "reviewer", "--no-input")
    assert not get_user_model().objects.exists()


def test_it_prompts_for_the_password_twice(northside, monkeypatch):
    answers = iter(["prompted-password-1", "prompted-password-1"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    call("member", "add", "northside", "erin@example.org", "--role", "clinician")
    assert get_user_model().objects.get().check_password("prompted-password-1")


def test_it_refuses_mismatched_prompted_passwords(northside, monkeypatch):
    answers = iter(["prompted-password-1", "prompted-password-2"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="do not match"):
        call("member", "add", "northside", "erin@example.org", "--role", "clinician")


def test_it_refuses_an_unknown_slug(db):
    with pytest.raises(CommandError, match='No institution with the slug "nowhere"'):
        call("member", "add", "nowhere", "dana@example.org", "--role", "admin", "--no-input")


def test_it_refuses_an_unknown_role(northside):
    with pytest.raises(CommandError, match='Unknown role "boss"; choose one of: admin, reviewer'):
        call("member", "add", "northside", "dana@example.org", "--role", "boss", "--no-input")


def test_it_refuses_an_invalid_email(northside):
    with pytest.raises(CommandError, match="not a valid email"):
        call("member", "add", "northside", "not-an-email", "--role", "admin", "--no-input")


def test_it_updates_the_role_of_an_existing_member_and_says_so(bob, northside):
    output = call("member", "add", "northside", "BOB@example.org", "--role", "admin", "--no-input")
    assert Membership.objects.get(user=bob, institution=northside).role == "admin"
    assert "role changed from reviewer to administrator" in output
    assert get_user_model().objects.count() == 1


def test_it_adds_an_existing_user_to_another_institution_without_a_password(bob, southside):
    output = call(
        "member", "add", "southside", "bob@example.org", "--role", "clinician", "--no-input"
    )
    assert "Added bob@example.org as clinician of southside" in output
    assert bob.memberships.count() == 2


def test_it_says_when_nothing_changes(bob):
    output = call(
        "member", "add", "northside", "bob@example.org", "--role", "reviewer", "--no-input"
    )
    assert "already reviewer of northside; no change" in output


def test_the_commands_exit_with_status_1_and_a_clear_message(tmp_path):
    env = clean_env(tmp_path)
    assert run_manage(env, "migrate", "--noinput").returncode == 0
    created = run_manage(env, "institution", "create", "Lakeside Clinic")
    assert created.returncode == 0
    assert created.stdout.split()[-1] == "lakeside-clinic"

    duplicate = run_manage(env, "institution", "create", "Lakeside Clinic")
    assert duplicate.returncode == 1
    assert (
        'CommandError: An institution named "Lakeside Clinic" already exists.' in duplicate.stderr
    )

    env["PORTAL_MEMBER_PASSWORD"] = "a-long-enough-password"
    added = run_manage(
        env, "member", "add", "lakeside-clinic", "x@example.org", "--role", "admin", "--no-input"
    )
    assert added.returncode == 0, added.stderr
    unknown = run_manage(
        env, "member", "add", "nope", "x@example.org", "--role", "admin", "--no-input"
    )
    assert unknown.returncode == 1
    assert 'No institution with the slug "nope"' in unknown.stderr
