import argparse
import getpass
import os

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from portal.tenants.models import Membership
from portal.tenants.services import (
    TenantError,
    add_member,
    check_member_request,
    clean_credentials,
    user_exists,
)

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
            "--trainee",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="a trainee's signed worksheets wait for an attending's attestation "
            "(--no-trainee: not one); left as it is when not given",
        )
        add.add_argument(
            "--credentials",
            default=None,
            help='printed after the name on signed reports, e.g. "MD, RDMS" ("" clears them)',
        )
        add.add_argument(
            "--no-input",
            action="store_false",
            dest="interactive",
            help=f"never prompt; a new user's password comes from {PASSWORD_ENV}",
        )

    def handle(self, *args, action, **options):
        if action == "add":
            self.add(
                options["slug"],
                options["email"],
                options["role"],
                options["interactive"],
                trainee=options["trainee"],
                credentials=options["credentials"],
            )

    def add(self, slug, email, role, interactive, *, trainee=None, credentials=None):
        try:
            # Everything that needs no password is checked first, so a typo is not
            # discovered only after typing a password twice.
            _, email = check_member_request(slug, email, role)
            if credentials is not None:
                clean_credentials(credentials)
            password = None if user_exists(email) else self.new_password(email, interactive)
            membership, created, previous = add_member(
                slug, email, role, password, trainee=trainee, credentials=credentials
            )
        except TenantError as e:
            raise CommandError(str(e)) from None
        self.report(membership, created, previous)
        if trainee is not None:
            state = "a trainee" if membership.is_trainee else "not a trainee"
            self.stdout.write(
                f"{membership.user.email} is {state} in {membership.institution.slug}"
            )
        if credentials is not None:
            shown = membership.user.credentials or "none"
            self.stdout.write(f"{membership.user.email}'s credentials: {shown}")

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
