import getpass
import os

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from portal.tenants.models import Membership
from portal.tenants.services import TenantError, add_member, check_member_request, user_exists

PASSWORD_ENV = "PORTAL_MEMBER_PASSWORD"


class Command(BaseCommand):
    help = "Manage institution members."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser(
            "add",
            help="Create a user (or take an existing one) and make them a member.",
            description=(
                "A new user's password is prompted for, or read from "
                f"{PASSWORD_ENV} with --no-input. An existing member gets the new role."
            ),
        )
        add.add_argument("slug", help="the institution's slug")
        add.add_argument("email")
        add.add_argument("--role", required=True, help="admin, reviewer or clinician")
        add.add_argument(
            "--no-input",
            action="store_false",
            dest="interactive",
            help=f"never prompt; a new user's password comes from {PASSWORD_ENV}",
        )

    def handle(self, *args, action, **options):
        if action == "add":
            self.add(options["slug"], options["email"], options["role"], options["interactive"])

    def add(self, slug, email, role, interactive):
        try:
            # Everything that needs no password is checked first, so a typo is not
            # discovered only after typing a password twice.
            _, email = check_member_request(slug, email, role)
            password = None if user_exists(email) else self.new_password(email, interactive)
            membership, created, previous = add_member(slug, email, role, password)
        except TenantError as e:
            raise CommandError(str(e)) from None
        self.report(membership, created, previous)

    def new_password(self, email, interactive):
        if not interactive:
            password = os.environ.get(PASSWORD_ENV, "")
            if not password:
                raise CommandError(f"{email} is a new user: set {PASSWORD_ENV} with --no-input.")
        else:
            password = getpass.getpass(f"Password for {email}: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        try:
            validate_password(password)
        except ValidationError as e:
            raise CommandError("Password refused: " + " ".join(e.messages)) from None
        return password

    def report(self, membership, created, previous):
        user, institution = membership.user, membership.institution
        role = Membership.Role(membership.role).label.lower()
        if created:
            self.stdout.write(f"Created user {user.email} as {role} of {institution.slug}")
        elif previous is None:
            self.stdout.write(f"Added {user.email} as {role} of {institution.slug}")
        elif previous != membership.role:
            old = Membership.Role(previous).label.lower()
            self.stdout.write(
                f"Updated {user.email} in {institution.slug}: role changed from {old} to {role}"
            )
        else:
            self.stdout.write(f"{user.email} is already {role} of {institution.slug}; no change")
