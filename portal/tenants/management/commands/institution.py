from django.core.management.base import BaseCommand, CommandError

from portal.tenants.services import TenantError, create_institution


class Command(BaseCommand):
    help = "Manage institutions (tenants)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create an institution and print its slug.")
        create.add_argument("name")

    def handle(self, *args, action, **options):
        if action == "create":
            try:
                institution = create_institution(options["name"])
            except TenantError as e:
                raise CommandError(str(e)) from None
            # The slug is the last word so scripts can capture it with `awk '{print $NF}'`.
            self.stdout.write(
                f'Created institution "{institution.name}" with slug {institution.slug}'
            )
