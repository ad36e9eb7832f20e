"""``manage.py export_institution <slug> <archive.tar>``: one institution's whole record
as a verifiable archive (see ``portal.offboarding``)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portal.offboarding import exporting


class Command(BaseCommand):
    help = (
        "Write an institution's records and stored files to a tar archive with a manifest "
        "of every member's size and SHA-256 (secrets are left out)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The institution's slug.")
        parser.add_argument("archive", help="The .tar file to write (replaced when complete).")

    def handle(self, *args, slug, archive, **options):
        from portal.tenants.models import Institution

        institution = Institution.objects.filter(slug=slug).first()
        if institution is None:
            raise CommandError(f"no institution has the slug {slug!r}")
        destination = Path(archive)
        if not destination.parent.is_dir():
            raise CommandError(f"{destination.parent}: no such folder")
        if destination.is_dir():
            raise CommandError(f"{destination}: a folder, not a file name")
        manifest = exporting.export(
            institution, destination, log=lambda m: self.stderr.write(f"warning: {m}")
        )
        records = sum(e["count"] for e in manifest["records"].values())
        stored = [e for e in manifest["files"] if e["path"].startswith("files/")]
        self.stdout.write(
            f"Exported {institution.slug} to {destination}: {records} records, "
            f"{len(stored)} stored files ({sum(e['size'] for e in stored)} bytes)."
        )
        if manifest["absent_files"]:
            self.stdout.write(
                f"{len(manifest['absent_files'])} stored files named by records were not in "
                "storage (listed in the manifest's absent_files)."
            )
        if manifest["not_classified"]:
            self.stdout.write(
                "Not exported (no decision yet): " + ", ".join(manifest["not_classified"])
            )
        self.stdout.write(f"Manifest SHA-256: {manifest['manifest_sha256']} (keep it apart).")
