"""``python manage.py clarius ...``: this portal's Clarius account from the shell.

The same actions as the admin's Clarius pages, through the same modules of ``account/``
(``service_settings``, ``keys``, ``rotation``, ``records``, ``presets``), so the two never
disagree.
"""

import json
from contextlib import closing
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from integrations.clarius.account.service_settings import mask_secret_url
from integrations.clarius.api.errors import ClariusError, NotFound
from integrations.clarius.api.explain import vendor_reason


class Command(BaseCommand):
    help = "Talk to Clarius Cloud: register, settings, poll, records, keys, applications."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "register",
            help="PATCH Clarius settings with this portal's notification and token transfer URLs.",
        )
        sub.add_parser("settings", help="Show Clarius' settings and whether they match ours.")
        poll = sub.add_parser("poll", help="Ingest accessible exams whose notification was lost.")
        poll.add_argument("--customer-id", help="only this customer token")
        records = sub.add_parser("records", help="Clarius' log of its webhook calls, newest first.")
        records.add_argument("--limit", type=int, default=50)
        records.add_argument("--failures", action="store_true", help="only failed calls")
        records.add_argument(
            "--ingest", metavar="REQUEST_UUID", help="record a request the portal never got"
        )
        keys = sub.add_parser("keys", help="Service API keys: list, create, revoke, rotate.")
        key_actions = keys.add_subparsers(dest="key_action", required=True)
        key_actions.add_parser("list", help="Keys at Clarius, and which one the portal uses.")
        create = key_actions.add_parser("create", help="A new key for another system.")
        create.add_argument("name")
        revoke = key_actions.add_parser("revoke", help="Revoke a key (not the one in use).")
        revoke.add_argument("prefix")
        rotate = key_actions.add_parser(
            "rotate", help="Replace the key in use by a new one, then revoke the old one."
        )
        rotate.add_argument("--name", help="name of the new key")
        apps = sub.add_parser("applications", help="Annotation presets per exam application.")
        app_actions = apps.add_subparsers(dest="app_action", required=True)
        app_actions.add_parser("list", help="Exam applications and this service's groups.")
        show = app_actions.add_parser("show", help="One application's groups, as JSON.")
        show.add_argument("uuid")
        put = app_actions.add_parser("set", help="Replace the groups with a JSON file's.")
        put.add_argument("uuid")
        put.add_argument(
            "file", help='[{"title", "labels", "linked"}, ...] or {"annotations": [...]}'
        )
        reset = app_actions.add_parser("reset", help="Remove this service's groups.")
        reset.add_argument("uuid")

    def handle(self, *args, action, **options):
        from integrations.clarius.clients import service_client

        try:
            if action == "keys" and options["key_action"] == "rotate":
                return self.keys_rotate(**options)  # rotation makes its own clients
            with closing(service_client()) as client:
                getattr(self, action)(client, **options)
        except ClariusError as e:
            raise CommandError(f"Clarius answered with an error: {vendor_reason(e)}") from None
        except ImproperlyConfigured as e:
            raise CommandError(str(e)) from None

    def register(self, client, **options):
        from integrations.clarius.account.service_settings import register

        current = register(client)
        self.stdout.write("Registered with Clarius:")
        self.stdout.write(f"  notification_url    {mask_secret_url(current.notification_url)}")
        self.stdout.write(f"  token_transfer_url  {current.token_transfer_url}")

    def settings(self, client, **options):
        from integrations.clarius.account.service_settings import compare_settings

        rows = compare_settings(client)
        for row in rows:
            mark = "ok      " if row.matches else "DIFFERS "
            self.stdout.write(f"{mark}{row.name}: {row.current_shown or '(empty)'}")
            if not row.matches:
                self.stdout.write(f"        this portal would register: {row.wanted_shown}")
        if not all(row.matches for row in rows):
            self.stdout.write("Run `python manage.py clarius register` to fix.")

    def poll(self, client, customer_id=None, **options):
        from integrations.clarius.ingestion.catchup import poll_accessible

        counts = poll_accessible(client, customer_id=customer_id)
        self.stdout.write(
            f"Accessible exams: {counts['seen']}; new: {counts['new']} queued for fetching, "
            f"{counts['unassigned']} waiting for a linked account, {counts['rejected']} refused."
        )

    def records(self, client, limit=50, failures=False, ingest=None, **options):
        from integrations.clarius.account.records import CannotIngest, record_rows
        from integrations.clarius.account.records import ingest as ingest_record

        if ingest:
            try:
                counts = ingest_record(client, ingest)
            except CannotIngest as e:
                raise CommandError(str(e)) from None
            waiting = "its exam is being fetched" if counts["new"] else "it waits for its link"
            self.stdout.write(f"Recorded request {ingest}; {waiting}.")
            return
        rows, _ = record_rows(client, limit=limit, failures_only=failures)
        for row in rows:
            when = (
                row.record.logged_at.isoformat(timespec="seconds") if row.record.logged_at else "?"
            )
            line = f"{when}  {row.outcome:<24} {row.request_uuid or '-':<36}  "
            line += "received" if row.receipt else "NOT RECEIVED"
            self.stdout.write(self.style.ERROR(line) if row.failed else line)
        if not rows:
            self.stdout.write("No notification records (Clarius keeps them for 14 days).")

    # --- keys ---------------------------------------------------------------------------

    def keys(self, client, key_action, **options):
        getattr(self, f"keys_{key_action}")(client, **options)

    def keys_list(self, client, **options):
        from integrations.clarius.account.keys import list_keys

        for row in list_keys(client):
            created = row.created.isoformat(timespec="seconds") if row.created else "?"
            mark = "IN USE " if row.in_use else "       "
            state = f"  ({row.stored.get_state_display()})" if row.stored and not row.in_use else ""
            self.stdout.write(f"{mark}{row.prefix}.***  {created}  {row.name or ''}{state}")

    def keys_create(self, client, name, **options):
        from integrations.clarius.account.keys import create_key

        created = create_key(client, name)
        self.stdout.write(
            f"Created {created.prefix}.*** ({created.name}). The full key, shown once:"
        )
        self.stdout.write(created.key)
        self.stdout.write("The portal does not use it (`clarius keys rotate` replaces its own).")

    def keys_revoke(self, client, prefix, **options):
        from integrations.clarius.account.keys import KeyRefused, revoke_key

        try:
            revoke_key(client, prefix)
        except KeyRefused as e:
            raise CommandError(str(e)) from None
        self.stdout.write(f"Revoked {prefix}.*** at Clarius.")

    def keys_rotate(self, name=None, **options):
        from integrations.clarius.account.keys import KeyRefused
        from integrations.clarius.account.rotation import rotate

        try:
            report = rotate(name)
        except KeyRefused as e:
            raise CommandError(str(e)) from None
        for line in report.steps:
            self.stdout.write(line)
        if not report.ok:
            raise CommandError(
                "The rotation did not finish; see above. The portal has a working key."
            )
        self.stdout.write(self.style.SUCCESS(f"Rotated: the portal uses {report.new_prefix}.***"))

    # --- applications ---------------------------------------------------------------------

    def applications(self, client, app_action, **options):
        try:
            getattr(self, f"applications_{app_action}")(client, **options)
        except NotFound:
            raise CommandError("Clarius has no such application.") from None

    def applications_list(self, client, **options):
        from integrations.clarius.account.presets import applications

        for row in applications(client):
            groups = ", ".join(f"{g.title} ({len(g.labels)})" for g in row.groups) or "-"
            self.stdout.write(f"{row.uuid}  {row.name:<14} {groups}")

    def applications_show(self, client, uuid, **options):
        from integrations.clarius.account.presets import current

        customisation = current(client, uuid)
        document = {
            "uuid": customisation.uuid,
            "name": customisation.name,
            "annotations": [group.to_json() for group in customisation.annotations],
        }
        self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False))

    def applications_set(self, client, uuid, file, **options):
        from integrations.clarius.account.presets import save, validate

        try:
            document = json.loads(Path(file).read_text())
        except (OSError, ValueError) as e:
            raise CommandError(f"Cannot read {file}: {e}") from None
        if isinstance(document, dict):
            document = document.get("annotations")
        groups, problems = validate(document)
        if problems:
            raise CommandError("Not saved:\n" + "\n".join(f"  {p}" for p in problems))
        result = save(client, uuid, groups, via="command")
        self.stdout.write(f"Saved {len(result.annotations)} group(s) for {result.name}.")

    def applications_reset(self, client, uuid, **options):
        from integrations.clarius.account.presets import reset

        result = reset(client, uuid, via="command")
        self.stdout.write(f"Reset {result.name}: this service has no groups for it now.")
