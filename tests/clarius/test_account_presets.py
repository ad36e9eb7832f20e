"""Annotation presets: every validation rule, the admin editor and the command."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from clarius_sandbox.catalogue import APPLICATIONS
from integrations.clarius.account import presets
from integrations.clarius.models import PresetChange

CARDIAC = next(a for a in APPLICATIONS if a["name"] == "Cardiac")["uuid"]
GOOD = {"title": "Side", "labels": ["Left", "Right"], "linked": True}


def group(**changes):
    return {**GOOD, **changes}


def problems_of(groups):
    return [str(p) for p in presets.validate(groups)[1]]


# --- the rules ------------------------------------------------------------------------


def test_a_good_list_passes_stripped():
    groups, problems = presets.validate([group(title="  Side "), group(title="Organ")])
    assert problems == []
    assert [g.title for g in groups] == ["Side", "Organ"]
    assert groups[0].to_json() == GOOD


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        ({"title": "x"}, "annotations must be a list of groups"),
        (["not a group"], "group 1: a group must be an object"),
        ([group(title="")], "group 1 title: a title is required"),
        ([group(title="   ")], "group 1 title: a title is required"),
        ([group(title=None)], "group 1 title: a title is required"),
        ([group(title="x" * 101)], "group 1 title: at most 100 characters"),
        ([group(title="Side\x00")], "group 1 title: contains control characters"),
        ([group(), group(title="SIDE")], "group 2 title: the same title as group 1"),
        ([group(labels=[])], "group 1 labels: at least one label"),
        ([group(labels="Left")], "group 1 labels: labels must be a list of text"),
        ([group(labels=["Left", 3])], "group 1 labels: labels must be a list of text"),
        ([group(labels=["Left", " "])], "group 1 labels: a label is empty"),
        ([group(labels=["y" * 65])], "group 1 labels: “yyyyyyyyyyyyyyyyyyyy…” is over 64"),
        ([group(labels=["Le\nft"])], "group 1 labels: a label contains control characters"),
        ([group(labels=["Left", "left"])], "group 1 labels: “left” appears twice"),
        ([group(labels=[str(n) for n in range(101)])], "group 1 labels: at most 100 labels"),
        ([group(linked="yes")], "group 1 linked: linked must be true or false"),
        ([group(title=str(n)) for n in range(51)], "at most 50 groups"),
    ],
)
def test_every_rule(groups, expected):
    found = problems_of(groups)
    assert any(p.startswith(expected) for p in found), found


def test_labels_may_repeat_across_groups():
    assert problems_of([group(), group(title="Other")]) == []


# --- the admin editor ------------------------------------------------------------------


@pytest.fixture
def root_client(client, db, clarius_settings):
    root = get_user_model().objects.create_superuser(email="root@example.org", password="x")
    client.force_login(root)
    return client


def formset_data(*rows, initial=0):
    data = {
        "form-TOTAL_FORMS": str(len(rows)),
        "form-INITIAL_FORMS": str(initial),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }
    for i, (title, labels, linked) in enumerate(rows):
        data[f"form-{i}-title"] = title
        data[f"form-{i}-labels"] = "\n".join(labels)
        if linked:
            data[f"form-{i}-linked"] = "on"
    return data


def edit_url(uuid=CARDIAC):
    return reverse("admin:clarius_presetchange_edit", args=[uuid])


def test_the_editor_saves_with_put_and_reads_back(root_client, clarius_sandbox):
    data = formset_data(("Side", ["Left", "Right"], True), ("", [], False))
    response = root_client.post(edit_url(), data)
    assert response.status_code == 302
    assert clarius_sandbox.state.customisations[CARDIAC] == [GOOD]
    change = PresetChange.objects.get()
    assert (change.action, change.application_name, change.annotations) == (
        "save",
        "Cardiac",
        [GOOD],
    )
    page = root_client.get(edit_url())
    assert page.context["formset"].initial == [
        {"title": "Side", "labels": "Left\nRight", "linked": True}
    ]
    listing = root_client.get(reverse("admin:clarius_presetchange_changelist")).content.decode()
    assert "Side (2)" in listing and "Saved Cardiac" in listing


def test_the_editor_refuses_invalid_groups_on_their_row(root_client, clarius_sandbox):
    data = formset_data(("Side", ["Left", "left"], False), ("side", ["A"], False))
    response = root_client.post(edit_url(), data)
    assert response.status_code == 200
    forms = response.context["formset"].forms
    assert forms[0].errors == {"labels": ["“left” appears twice"]}
    assert forms[1].errors == {"title": ["the same title as group 1"]}
    assert CARDIAC not in clarius_sandbox.state.customisations
    assert not PresetChange.objects.exists()


def test_a_group_is_dropped_with_delete(root_client, clarius_sandbox):
    clarius_sandbox.state.customisations[CARDIAC] = [GOOD, group(title="Organ")]
    data = formset_data(("Side", ["Left", "Right"], True), ("Organ", ["Left"], True), initial=2)
    data["form-1-DELETE"] = "on"
    root_client.post(edit_url(), data)
    assert clarius_sandbox.state.customisations[CARDIAC] == [GOOD]


def test_reset_deletes_the_customisation(root_client, clarius_sandbox):
    clarius_sandbox.state.customisations[CARDIAC] = [GOOD]
    root_client.post(reverse("admin:clarius_presetchange_reset", args=[CARDIAC]))
    assert CARDIAC not in clarius_sandbox.state.customisations
    assert PresetChange.objects.get().action == "reset"


def test_an_unknown_application_is_said_so(root_client, clarius_sandbox):
    response = root_client.get(edit_url("00000000-0000-4000-8000-000000000000"))
    assert "no such application" in root_client.get(response.url).content.decode()


def test_staff_who_are_not_superusers_are_refused(client, alice, clarius_settings):
    alice.is_staff = True
    alice.save()
    client.force_login(alice)
    assert client.get(reverse("admin:clarius_presetchange_changelist")).status_code == 403
    assert client.get(edit_url()).status_code == 403
    assert (
        client.post(reverse("admin:clarius_presetchange_reset", args=[CARDIAC])).status_code == 403
    )


# --- the command ---------------------------------------------------------------------


def run(*args):
    out = StringIO()
    call_command("clarius", "applications", *args, stdout=out)
    return out.getvalue()


def test_the_command_lists_shows_sets_and_resets(db, clarius_settings, clarius_sandbox, tmp_path):
    assert run("list").count("\n") == len(APPLICATIONS)
    path = tmp_path / "presets.json"
    path.write_text(json.dumps({"annotations": [GOOD]}))
    assert "Saved 1 group(s) for Cardiac" in run("set", CARDIAC, str(path))
    assert clarius_sandbox.state.customisations[CARDIAC] == [GOOD]
    assert json.loads(run("show", CARDIAC))["annotations"] == [GOOD]
    assert "Side (2)" in run("list")
    assert "Reset Cardiac" in run("reset", CARDIAC)
    assert CARDIAC not in clarius_sandbox.state.customisations
    assert [c.via for c in PresetChange.objects.all()] == ["command", "command"]


def test_the_command_refuses_invalid_files(db, clarius_settings, clarius_sandbox, tmp_path):
    path = tmp_path / "presets.json"
    path.write_text(json.dumps([group(title=""), group(labels=[])]))
    with pytest.raises(CommandError) as info:
        run("set", CARDIAC, str(path))
    assert "group 1 title: a title is required" in str(info.value)
    assert "group 2 labels: at least one label" in str(info.value)
    path.write_text("{not json")
    with pytest.raises(CommandError, match="Cannot read"):
        run("set", CARDIAC, str(path))
    with pytest.raises(CommandError, match="no such application"):
        run("show", "00000000-0000-4000-8000-000000000000")
    assert CARDIAC not in clarius_sandbox.state.customisations
