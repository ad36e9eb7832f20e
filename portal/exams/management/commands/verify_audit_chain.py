"""Check that the audit log has not been changed behind the portal's back.

Walks each institution's audit chain (portal.exams.audit_chain) in number order, a batch
at a time, and reports every event whose hash no longer matches its fields (changed in
the database), every gap in the numbers (a deleted event, with the events either side),
every event without a number, and a chain whose last event is not the head's (events
cut from the end). Exit status 1 when anything is found, 0 when every chain is intact.
"""

from django.core.management.base import BaseCommand, CommandError

from portal.exams import audit_chain
from portal.exams.models import AuditChainHead, AuditEvent
from portal.tenants.models import Institution


class Command(BaseCommand):
    help = "Verify every institution's tamper-evident audit chain; exit 1 if any is broken."

    def add_arguments(self, parser):
        parser.add_argument("--institution", metavar="SLUG", help="Only this institution.")
        parser.add_argument(
            "--batch", type=int, default=audit_chain.BATCH, help="Events read per query."
        )

    def handle(self, *args, institution=None, batch=audit_chain.BATCH, **options):
        institutions = Institution.objects.order_by("slug")
        if institution is not None:
            institutions = institutions.filter(slug=institution)
            if not institutions.exists():
                raise CommandError(f"No institution with the slug {institution!r}.")
        broken = 0
        for each in institutions.only("pk", "slug").iterator():
            walk = audit_chain.Walk(AuditEvent, AuditChainHead, each.pk, batch=max(batch, 1))
            for finding in walk.findings():
                self.stdout.write(f"{each.slug}: {finding}")
            if walk.found:
                broken += 1
                self.stdout.write(
                    self.style.ERROR(
                        f"{each.slug}: {walk.counted} events, {walk.found} "
                        f"finding{'s' if walk.found != 1 else ''}: the audit chain is broken"
                    )
                )
            else:
                self.stdout.write(f"{each.slug}: {walk.counted} events, the audit chain is intact")
        if broken:
            raise CommandError(
                f"The audit chain of {broken} institution{'s' if broken != 1 else ''} is broken.",
                returncode=1,
            )
