"""``python manage.py clarius ...``: this portal's Clarius account from the shell."""

from contextlib import closing

from django.core.management.base import BaseCommand, CommandError

from integrations.clarius.errors import ClariusError


class Command(BaseCommand):
    help = "Talk to Clarius Cloud: register, settings, poll, records."

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

    def handle(self, *args, action, **options):
        from integrations.clarius.client import ServiceClient

        try:
            with closing(ServiceClient.from_settings()) as client:
                getattr(self, action)(client, **options)
        except ClariusError as e:
            raise CommandError(f"Clarius answered with an error: {e}") from None

    def register(self, client, **options):
        from integrations.clarius.registration import wanted_settings

        wanted = wanted_settings()
        current = client.update_settings(**wanted)
        self.stdout.write("Registered with Clarius:")
        self.stdout.write(f"  notification_url    {mask_secret_url(current.notification_url)}")
        self.stdout.write(f"  token_transfer_url  {current.token_transfer_url}")

    def settings(self, client, **options):
        from integrations.clarius.registration import wanted_settings

        current = client.get_settings()
        wanted = wanted_settings()
        ok = True
        for name in ("notification_url", "token_transfer_url"):
            have, want = getattr(current, name) or "", wanted[name]
            match = have == want
            ok = ok and match
            mark = "ok      " if match else "DIFFERS "
            self.stdout.write(f"{mark}{name}: {mask_secret_url(have) or '(empty)'}")
            if not match:
                self.stdout.write(f"        this portal would register: {mask_secret_url(want)}")
        if not ok:
            self.stdout.write("Run `python manage.py clarius register` to fix.")

    def poll(self, client, customer_id=None, **options):
        from integrations.clarius.catchup import poll_accessible

        counts = poll_accessible(client, customer_id=customer_id)
        self.stdout.write(
            f"Accessible exams: {counts['seen']}; new: {counts['new']} queued for fetching, "
            f"{counts['unassigned']} waiting for a linked account, {counts['rejected']} refused."
        )

    def records(self, client, limit=50, failures=False, **options):
        from integrations.clarius.models import NotificationReceipt

        shown = 0
        for record in client.iter_notification_records():
            event = record.event
            status = event.status_code if event else None
            failed = bool(event and (event.error or not status or status >= 300))
            if failures and not failed:
                continue
            request_uuid = request_uuid_of(event)
            received = (
                request_uuid
                and NotificationReceipt.objects.filter(request_uuid=request_uuid).exists()
            )
            when = record.logged_at.isoformat(timespec="seconds") if record.logged_at else "?"
            outcome = event.error if event and event.error else f"HTTP {status}"
            line = f"{when}  {outcome:<24} {request_uuid or '-':<36}  "
            line += "received" if received else "NOT RECEIVED"
            self.stdout.write(self.style.ERROR(line) if failed else line)
            shown += 1
            if shown >= limit:
                break
        if not shown:
            self.stdout.write("No notification records (Clarius keeps them for 14 days).")


def request_uuid_of(event):
    import json

    try:
        return json.loads(event.request.content).get("request_uuid")
    except (AttributeError, TypeError, ValueError):
        return None


def mask_secret_url(url):
    """The webhook URL with its secret segment masked."""
    from integrations.clarius.models import mask_token

    if not url or "/clarius/notifications/" not in url:
        return url
    head, _, rest = url.partition("/clarius/notifications/")
    secret = rest.strip("/")
    return f"{head}/clarius/notifications/{mask_token(secret)}/"
