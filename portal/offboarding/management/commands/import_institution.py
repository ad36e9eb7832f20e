"""``manage.py import_institution <archive.tar>``: restore an institution archive into a
portal that does not have the institution (see ``portal.offboarding.importing``)."""

from django.core.management.base import BaseCommand, CommandError

from portal.offboarding import archive as archives
from portal.offboarding import importing


class Command(BaseCommand):
    help = (
        "Check an institution archive, then restore its records (one transaction) and its "
        "stored files into this portal; refused if the institution is already here."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", help="The .tar file written by export_institution.")

    def handle(self, *args, archive: str, **options):
        try:
            job = importing.restore(archive, log=lambda m: self.stderr.write(f"warning: {m}"))
        except (importing.ImportRefused, archives.ArchiveRefused) as e:
            raise CommandError(f"{archive}: not imported: {e}") from None
        inst = job.institution
        self.stdout.write(
            f"Imported {inst.slug} ({inst.name}) as institution {inst.pk}: "
            f"{sum(job.counts.values())} records, {len(job.written)} stored files."
        )
        self.stdout.write(
            f"Users: {job.matched_users} matched by address, {job.created_users} created "
            "inactive without a password (activate them; they reset their password)."
        )
        if inst.pk != job.source_institution or job.renumbered:
            self.stdout.write(
                "Renumbered (their numbers were taken here): "
                + ", ".join(
                    (["the institution"] if inst.pk != job.source_institution else [])
                    + job.renumbered
                )
                + ". The audit log's object ids keep the source's numbers."
            )
        self.stdout.write("Destinations are switched off until their secrets are entered again.")
