"""``manage.py verify_export <archive.tar>``: check an institution archive without
restoring anything (see ``portal.offboarding.archive``)."""

from django.core.management.base import BaseCommand, CommandError

from portal.offboarding import archive as archives

SHOWN = 200


class Command(BaseCommand):
    help = (
        "Check an institution archive: every member's size and SHA-256 against the manifest, "
        "nothing missing or extra, the records parse and their references resolve."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", help="The .tar file to check.")

    def handle(self, *args, archive: str, **options):
        try:
            checked = archives.check(archive)
        except archives.ArchiveRefused as e:
            raise CommandError(str(e)) from None
        if not checked.ok:
            for path, reason in checked.problems[:SHOWN]:
                self.stderr.write(f"{path}: {reason}")
            more = len(checked.problems) - SHOWN
            if more > 0:
                self.stderr.write(f"... and {more} more")
            raise CommandError(f"{archive}: {len(checked.problems)} problems; not a sound archive")
        m = checked.manifest
        self.stdout.write(
            f"{archive}: sound. Institution {m['institution']['slug']} "
            f"({m['institution']['name']}), exported {m.get('created_at')}."
        )
        for label, count in sorted(checked.counts.items()):
            self.stdout.write(f"  {label}: {count}")
        self.stdout.write(
            f"  stored files: {checked.stored_files} ({checked.stored_bytes} bytes); "
            f"absent when exported: {len(m.get('absent_files', []))}"
        )
        if checked.chained:
            self.stdout.write(f"  audit chain: {checked.chained} events match their hashes")
