"""Annotation presets: the label groups the service pushes to the Clarius app, per
exam application (§9). Clarius is the truth; the portal validates before a PUT, reads
the result back, and keeps a history of who changed what (``PresetChange``)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from integrations.clarius.api.documents import AnnotationGroup, ApplicationCustomisation
from integrations.clarius.models import PresetChange

# Limits on what a clinician sees on a phone screen; Clarius states none, so these are
# deliberately generous while refusing obvious mistakes (a pasted paragraph as a label).
MAX_GROUPS = 50
MAX_LABELS = 100
MAX_TITLE = 100
MAX_LABEL = 64


@dataclass(frozen=True)
class Problem:
    group: int | None  # index of the group, or None for the whole list
    field: str | None  # "title", "labels", "linked"
    message: str

    def __str__(self) -> str:
        where = "" if self.group is None else f"group {self.group + 1}"
        if self.field:
            where = f"{where} {self.field}".strip()
        return f"{where}: {self.message}" if where else self.message


def _bad_text(text: str) -> bool:
    return any(unicodedata.category(c).startswith("C") for c in text)


def validate(groups: list) -> tuple[list[AnnotationGroup], list[Problem]]:
    """Check raw groups (``{"title", "labels", "linked"}``); text is stripped.

    Rules: at most ``MAX_GROUPS`` groups; each title non-empty, at most ``MAX_TITLE``
    characters and unique (ignoring case) among the groups; each group has 1 to
    ``MAX_LABELS`` labels, each non-empty, at most ``MAX_LABEL`` characters and unique
    (ignoring case) within its group; ``linked`` a boolean; no control characters.
    """
    problems: list[Problem] = []
    if not isinstance(groups, list):
        return [], [Problem(None, None, "annotations must be a list of groups")]
    if len(groups) > MAX_GROUPS:
        problems.append(Problem(None, None, f"at most {MAX_GROUPS} groups"))
    clean: list[AnnotationGroup] = []
    titles: dict[str, int] = {}
    for index, group in enumerate(groups):
        if not isinstance(group, dict):
            problems.append(Problem(index, None, "a group must be an object"))
            continue
        title = group.get("title")
        title = title.strip() if isinstance(title, str) else None
        if not title:
            problems.append(Problem(index, "title", "a title is required"))
        elif len(title) > MAX_TITLE:
            problems.append(Problem(index, "title", f"at most {MAX_TITLE} characters"))
        elif _bad_text(title):
            problems.append(Problem(index, "title", "contains control characters"))
        elif title.casefold() in titles:
            first = titles[title.casefold()] + 1
            problems.append(Problem(index, "title", f"the same title as group {first}"))
        else:
            titles[title.casefold()] = index
        labels = group.get("labels")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            problems.append(Problem(index, "labels", "labels must be a list of text"))
            labels = []
        labels = [label.strip() for label in labels]
        problems += _label_problems(index, labels)
        linked = group.get("linked", False)
        if not isinstance(linked, bool):
            problems.append(Problem(index, "linked", "linked must be true or false"))
            linked = False
        clean.append(AnnotationGroup(title=title or "", labels=labels, linked=linked))
    return (clean if not problems else []), problems


def _label_problems(index: int, labels: list[str]) -> list[Problem]:
    problems = []
    if not labels:
        problems.append(Problem(index, "labels", "at least one label"))
    if len(labels) > MAX_LABELS:
        problems.append(Problem(index, "labels", f"at most {MAX_LABELS} labels"))
    seen: set[str] = set()
    for label in labels:
        if not label:
            problems.append(Problem(index, "labels", "a label is empty"))
        elif len(label) > MAX_LABEL:
            problems.append(
                Problem(index, "labels", f"“{label[:20]}…” is over {MAX_LABEL} characters")
            )
        elif _bad_text(label):
            problems.append(Problem(index, "labels", "a label contains control characters"))
        elif label.casefold() in seen:
            problems.append(Problem(index, "labels", f"“{label}” appears twice"))
        seen.add(label.casefold())
    return problems


@dataclass
class ApplicationRow:
    uuid: str
    name: str
    groups: list[AnnotationGroup]


def applications(client) -> list[ApplicationRow]:
    """Every exam application on Clarius, with the service's groups for it (if any)."""
    customised = {c.uuid: c for c in client.list_application_customisations()}
    return [
        ApplicationRow(
            app.uuid,
            app.name or app.uuid,
            customised[app.uuid].annotations if app.uuid in customised else [],
        )
        for app in client.list_exam_applications()
    ]


def current(client, application_uuid: str) -> ApplicationCustomisation:
    """The application's customisation as Clarius has it (``NotFound``: no such app)."""
    return client.get_application_customisation(application_uuid)


def save(client, application_uuid: str, groups: list[AnnotationGroup], *, user=None, via=""):
    """PUT the groups, read them back from Clarius and record the change."""
    client.put_application_customisation(application_uuid, groups)
    result = current(client, application_uuid)
    PresetChange.objects.create(
        application_uuid=application_uuid,
        application_name=result.name or "",
        action=PresetChange.Action.SAVE,
        annotations=[group.to_json() for group in result.annotations],
        changed_by=user,
        via=via,
    )
    return result


def reset(client, application_uuid: str, *, user=None, via=""):
    """DELETE the customisation (Clarius' defaults apply again) and record it."""
    name = current(client, application_uuid).name or ""  # NotFound: no such application
    client.delete_application_customisation(application_uuid)
    PresetChange.objects.create(
        application_uuid=application_uuid,
        application_name=name,
        action=PresetChange.Action.RESET,
        changed_by=user,
        via=via,
    )
    return current(client, application_uuid)
