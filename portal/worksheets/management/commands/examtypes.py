from django.core.management.base import BaseCommand
from django.db.models import Max

from portal.tenants.commands import institution_by_slug
from portal.tenants.models import Institution
from portal.worksheets.defaults import DEFAULTS, install
from portal.worksheets.models import ExamType


class Command(BaseCommand):
    help = "List exam types, or add the default ones an institution lacks."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser(
            "list",
            help="An institution's exam types; without --institution, the defaults and "
            "the institutions that lack some of them.",
        )
        listing.add_argument("--institution", metavar="SLUG", help="the institution's slug")
        add = sub.add_parser(
            "install",
            help="Add the default exam types an institution lacks (by code); the others "
            "are left as they are.",
        )
        which = add.add_mutually_exclusive_group(required=True)
        which.add_argument("--institution", metavar="SLUG", help="the institution's slug")
        which.add_argument("--all", action="store_true", help="every institution")

    def handle(self, *args, action, **options):
        slug = options.get("institution")
        if action == "list" and slug:
            self.list_types(institution_by_slug(slug))
        elif action == "list":
            self.list_defaults()
        elif options.get("all"):
            institutions = Institution.objects.order_by("slug")
            for each in institutions:
                self.install(each)
            if not institutions:
                self.stdout.write("There are no institutions.")
        else:
            self.install(institution_by_slug(slug))

    def list_types(self, where):
        exam_types = (
            ExamType.objects.for_institution(where)
            .annotate(version=Max("templates__version"))
            .order_by("code")
        )
        rows = [
            (
                t.code,
                t.name,
                f"v{t.version}" if t.version else "no worksheet",
                "in use" if t.is_active else "retired",
                ", ".join(t.clarius_applications) or "-",
            )
            for t in exam_types
        ]
        if not rows:
            self.stdout.write(f"{where.slug} has no exam types.")
        self.write_table(rows)

    def list_defaults(self):
        self.write_table([(d["code"], d["name"]) for d in DEFAULTS])
        codes = [d["code"] for d in DEFAULTS]
        have: dict[int, set] = {}
        for institution_id, code in ExamType.objects.values_list("institution_id", "code"):
            have.setdefault(institution_id, set()).add(code)
        lacking = [
            (each.slug, [c for c in codes if c not in have.get(each.pk, set())])
            for each in Institution.objects.order_by("slug")
        ]
        lacking = [(slug, missing) for slug, missing in lacking if missing]
        self.stdout.write("")
        if not lacking:
            self.stdout.write("Every institution has every default exam type.")
        for slug, missing in lacking:
            self.stdout.write(f"{slug} lacks {len(missing)}: {', '.join(missing)}")

    def install(self, where):
        added = install(where)
        self.stdout.write(f"{where.slug}: added {added} default exam type{'s' * (added != 1)}")

    def write_table(self, rows):
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))] if rows else []
        for row in rows:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
            self.stdout.write("  ".join(cells).rstrip())
