"""Remove the capture media the institutions' retention policies say is due, now.

The daily schedule does the same through the workers; this runs it in this process and
prints what it did. ``--dry-run`` prints what would be removed and changes nothing.
Interrupted, it leaves its rows due: running it again (or any worker, once the claim
ran out) finishes them, counting nothing twice.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Sum

from portal import work
from portal.exams.models import Capture
from portal.retention import purge
from portal.retention.models import MediaPurge
from portal.tenants.models import Institution


class Command(BaseCommand):
    help = "Remove capture media past its institution's retention period (see README: Retention)."

    def add_arguments(self, parser):
        parser.add_argument("--institution", metavar="SLUG", help="Only this institution.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Show what would be removed; change nothing."
        )

    def handle(self, *args, institution=None, dry_run=False, **options):
        only = None
        if institution:
            only = Institution.objects.filter(slug=institution).first()
            if only is None:
                raise CommandError(f"No institution with the slug {institution!r}.")
        if dry_run:
            return self._dry_run(only)
        planned = purge.plan_purges(only, nudge=False)
        rows = MediaPurge.objects.filter(state=MediaPurge.State.PENDING)
        if only is not None:
            rows = rows.filter(institution=only)
        outcomes: dict[str, int] = {}
        for pk in work.due(rows).order_by("pk").values_list("pk", flat=True):
            # Claims renewed while each purge runs, as in a worker.
            with work.running():
                outcome = purge.purge_exam(pk)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        self.stdout.write(
            f"{planned} exam(s) due; "
            + (", ".join(f"{n} {word}" for word, n in sorted(outcomes.items())) or "none run")
        )

    def _dry_run(self, only):
        for inst, exams in purge.due_exams(only):
            count = exams.count()
            captures = Capture.objects.filter(exam__in=exams, media_purged_at__isnull=True).exclude(
                file=""
            )
            originals = captures.filter(duplicate_of__isnull=True)
            size = originals.aggregate(total=Sum("size"))["total"] or 0
            self.stdout.write(
                f"{inst.slug}: {count} exam(s), {captures.count()} capture(s), "
                f"{size} bytes would be removed (kept {inst.media_retention_days} days "
                "after signing)"
            )
        self.stdout.write("Dry run: nothing was changed.")
