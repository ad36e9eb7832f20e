"""``python manage.py destination add|list|test|remove``: PACS and EHR destinations from
the shell.

``destination add <institution-slug> <kind> [the kind's options] [--name N]
[--send images,report]`` prints a confirmation and, last on its own line, the new
destination's id. The kinds and their options come from ``portal.outbound.kinds`` (each
integration registers its own), so this command names no protocol: ``destination add
<slug> <kind> --help`` lists a kind's options.

A kind's secret (a bearer token) may be given as its flag (``--token T``), but that stays
in the shell's history; ``--token-file PATH`` (the first line of the file) or the
environment variable ``DESTINATION_TOKEN`` keep it out. It is stored encrypted and never
printed back. (For a kind whose secret flag is another, ``--client-secret`` say, the file
flag is ``--client-secret-file`` and the variable ``DESTINATION_CLIENT_SECRET``.)

``destination list <slug>``; ``destination test <id>`` (the kind's check: a C-ECHO, an
MLLP round trip, a FHIR ``metadata`` read); ``destination remove <id>`` (with its
delivery log). Refusals exit with status 1 and the reason.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from portal.outbound import forms, kinds
from portal.outbound.models import Destination
from portal.tenants.commands import institution_by_slug
from portal.tenants.timezones import format_when, zone_of
from portal.text import has_unstorable

SENDS = {"images": kinds.IMAGES, "report": kinds.REPORT}
# A kind's option is kept under this prefix in argparse's namespace, so an option named
# like one of the command's own arguments ("name", "institution") cannot clash with it.
PREFIX = "kind_option__"
LARGEST_ID = 2**63 - 1  # beyond any database's primary key (and SQLite's integer)


def secret_file_flag(kind: kinds.Kind) -> str:
    return kind.secret_flag + "-file"


def secret_variable(kind: kinds.Kind) -> str:
    return "DESTINATION_" + kind.secret_flag.lstrip("-").replace("-", "_").upper()


def argument_type(option: kinds.Option):
    """The argparse ``type`` of an option: its value, checked by the same field as the
    destination page's form (a port from 1 to 65535, an http(s) address, a length)."""
    field = forms.option_field(option)

    def clean(text):
        if not text.strip():
            raise argparse.ArgumentTypeError("empty")
        if has_unstorable(text):
            raise argparse.ArgumentTypeError("holds a character that cannot be stored")
        try:
            value = field.clean(text)
        except ValidationError as e:
            raise argparse.ArgumentTypeError(f"{text!r}: {' '.join(e.messages)}") from None
        return value.strip() if isinstance(value, str) else value

    return clean


def destination_name(text: str) -> str:
    text = text.strip()
    limit = Destination._meta.get_field("name").max_length
    if not text or len(text) > limit or has_unstorable(text):
        raise argparse.ArgumentTypeError(
            f"a name of 1 to {limit} characters, each one that can be stored"
        )
    return text


def sends(text: str) -> set[str]:
    wanted = {part.strip() for part in text.split(",") if part.strip()}
    if not wanted or not wanted <= set(SENDS):
        raise argparse.ArgumentTypeError(f"{text!r}: say images, report, or images,report")
    return wanted


class Command(BaseCommand):
    help = "Add, list, test or remove an institution's PACS and EHR destinations."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser(
            "add",
            help="add a destination; prints its id last",
            description="Add a destination. `destination add <slug> <kind> --help` lists "
            "a kind's options.",
        )
        add.add_argument("institution", help="the institution's slug")
        by_kind = add.add_subparsers(dest="kind", metavar="kind", required=True)
        for kind in kinds.registered():
            self.add_kind(by_kind, kind)
        listing = sub.add_parser("list", help="an institution's destinations")
        listing.add_argument("institution", help="the institution's slug")
        test = sub.add_parser("test", help="check a destination answers")
        test.add_argument("id", type=int)
        remove = sub.add_parser("remove", help="remove a destination and its delivery log")
        remove.add_argument("id", type=int)

    def add_kind(self, by_kind, kind: kinds.Kind):
        carried = [word for word, whats in SENDS.items() if whats & kind.carries]
        parser = by_kind.add_parser(kind.key, help=kind.label, description=kind.help or None)
        for option in kind.options:
            arguments = {"dest": PREFIX + option.name, "help": option.help or option.label}
            if option.type == "bool":
                # A setting on by default can be turned off (--no-include-pdf).
                arguments["action"] = (
                    argparse.BooleanOptionalAction if option.default else "store_true"
                )
                arguments["default"] = bool(option.default)
            else:
                arguments["type"] = argument_type(option)
                arguments["required"] = option.required and option.default is None
                arguments["default"] = option.default
                arguments["metavar"] = option.name.upper()
                if option.default is not None:
                    arguments["help"] = (
                        f"{arguments['help'].rstrip('.')}; default {option.default}."
                    )
            parser.add_argument(option.flag, **arguments)
        if kind.secret_label:
            parser.add_argument(
                kind.secret_flag,
                dest="secret",
                metavar="SECRET",
                help=f"{kind.secret_label} (stays in the shell's history: prefer "
                f"{secret_file_flag(kind)} or ${secret_variable(kind)})",
            )
            parser.add_argument(
                secret_file_flag(kind),
                dest="secret_file",
                type=Path,
                metavar="PATH",
                help=f"a file whose first line is the {kind.secret_label.lower()}",
            )
        parser.add_argument(
            "--name",
            type=destination_name,
            help="what staff call it (default: the kind and address)",
        )
        parser.add_argument(
            "--send",
            type=sends,
            default=set(carried),
            help=f"what it takes: {','.join(carried)} (the default)",
        )

    def handle(self, *args, action, **options):
        return getattr(self, f"handle_{action}")(**options)

    # Finding things ------------------------------------------------------------------

    def destination(self, pk) -> Destination:
        found = (
            Destination.objects.filter(pk=pk).select_related("institution").first()
            if 0 < pk <= LARGEST_ID
            else None
        )
        if found is None:
            raise CommandError(f"No destination has the id {pk}.")
        return found

    def kind_of(self, destination: Destination) -> kinds.Kind:
        kind = destination.kind_entry
        if kind is None:
            raise CommandError(
                f"Destination {destination.pk} is of kind {destination.kind!r}, which no "
                "installed integration provides."
            )
        return kind

    # add -----------------------------------------------------------------------------

    def handle_add(self, institution, kind, name, send, **options):
        institution = institution_by_slug(institution)
        entry = kinds.get(kind)  # argparse only lets registered kinds through
        cannot = sorted(word for word in send if not SENDS[word] & entry.carries)
        if cannot:
            raise CommandError(
                f"A {entry.label} destination cannot take the {' or '.join(cannot)}; "
                f"--send {','.join(w for w in SENDS if SENDS[w] & entry.carries)}."
            )
        values = {
            option.name: value
            for option in entry.options
            if (value := options.get(PREFIX + option.name)) is not None
        }
        destination = Destination(
            institution=institution,
            kind=entry.key,
            options=values,
            send_images="images" in send,
            send_report="report" in send,
        )
        if entry.secret_label:
            destination.secret = self.secret(
                entry, options.get("secret"), options.get("secret_file")
            )
        destination.name = name or f"{entry.label} {destination.address}"[:100]
        with transaction.atomic():
            destination.save()
        what = " and ".join(w for w in ("images", "report") if w in send)
        kept = f"; its {entry.secret_label.lower()} stored encrypted" if destination.secret else ""
        self.stdout.write(
            f"Added destination {destination.pk} of {institution.slug}: {destination.name}, "
            f"{entry.label} to {destination.address}, sending the {what}{kept}."
        )
        self.stdout.write(str(destination.pk))

    def secret(self, kind: kinds.Kind, given: str | None, path: Path | None) -> str:
        variable = secret_variable(kind)
        if given is not None and path is not None:
            raise CommandError(f"Give {kind.secret_flag} or {secret_file_flag(kind)}, not both.")
        if path is not None:
            try:
                lines = path.read_text().splitlines()
            except (OSError, UnicodeDecodeError) as e:
                raise CommandError(
                    f"Cannot read the {kind.secret_label.lower()} from {path}: "
                    f"{getattr(e, 'strerror', None) or e}."
                ) from None
            given = lines[0] if lines else ""
            if not given.strip():
                raise CommandError(f"{path} is empty: its first line should be the secret.")
        elif given is None:
            given = os.environ.get(variable, "")
        given = given.strip()
        if len(given) > forms.SECRET_LIMIT or has_unstorable(given):
            raise CommandError(
                f"That {kind.secret_label.lower()} cannot be right: over "
                f"{forms.SECRET_LIMIT} characters, or holding one that cannot be stored."
            )
        return given

    # list, test, remove --------------------------------------------------------------

    def handle_list(self, institution, **options):
        institution = institution_by_slug(institution)
        rows = Destination.objects.for_institution(institution)
        if not rows:
            self.stdout.write(f"{institution.slug} has no destinations.")
            return
        zone = zone_of(institution)
        self.stdout.write("id\tname\tkind\taddress\tactive\tsends\thealth")
        for d in rows:
            what = ",".join(
                w for w, on in (("images", d.send_images), ("report", d.send_report)) if on
            )
            self.stdout.write(
                "\t".join(
                    [
                        str(d.pk),
                        d.name,
                        d.kind_label,
                        d.address or "?",
                        "active" if d.is_active else "paused",
                        what or "nothing",
                        self.health(d, zone),
                    ]
                )
            )

    def health(self, d: Destination, zone) -> str:
        if d.kind_entry is None:
            return f"no installed integration sends {d.kind!r}"
        if d.failing_since:
            return f"failing since {format_when(d.failing_since, zone=zone)}"
        if d.last_success_at:
            return f"last sent {format_when(d.last_success_at, zone=zone)}"
        return "nothing sent yet"

    def handle_test(self, id, **options):
        destination = self.destination(id)
        kind = self.kind_of(destination)
        try:
            answer = kind.test(destination)
        except kinds.DeliveryFailed as e:
            raise CommandError(f"{destination.name} ({destination.address}) failed: {e}") from None
        self.stdout.write(f"{destination.name} ({destination.address}): {answer}")

    def handle_remove(self, id, **options):
        destination = self.destination(id)
        deliveries = destination.transmissions.count()
        destination.delete()
        self.stdout.write(
            f"Removed destination {id} ({destination.name}) of {destination.institution.slug}"
            f" and its {deliveries} logged deliver{'y' if deliveries == 1 else 'ies'}."
        )
