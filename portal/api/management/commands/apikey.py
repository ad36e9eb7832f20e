import datetime

from django.core.management.base import BaseCommand, CommandError

from portal.accounts.addresses import normalise_email
from portal.api import keys
from portal.api.models import ApiKey
from portal.tenants.commands import institution_by_slug
from portal.tenants.models import Membership


class Command(BaseCommand):
    help = "Manage institution API keys (REST API access for programs)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser(
            "create",
            help="Make a key acting as a member; the key is printed once, as the last line.",
        )
        create.add_argument("slug", help="the institution's slug")
        create.add_argument("email", help="the member the key acts as")
        create.add_argument("--name", required=True, help="what the key is for")
        create.add_argument("--scope", required=True, choices=ApiKey.Scope.values)
        create.add_argument("--expires", help="YYYY-MM-DD: the key works through this day")
        listing = sub.add_parser("list", help="The institution's keys (never their secrets).")
        listing.add_argument("slug", help="the institution's slug")
        revoke = sub.add_parser("revoke", help="Revoke a key by its prefix (cpk_xxxxxxxx).")
        revoke.add_argument("prefix")

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def handle_create(self, slug, email, name, scope, expires, **options):
        institution = institution_by_slug(slug)
        membership = (
            Membership.objects.for_institution(institution)
            .select_related("user", "institution")
            .filter(user__email=normalise_email(email))
            .first()
        )
        if membership is None:
            raise CommandError(f"{email} is not a member of {institution.slug}.")
        expires_at = None
        if expires:
            try:
                day = datetime.date.fromisoformat(expires)
            except ValueError:
                raise CommandError("--expires is a date: YYYY-MM-DD.") from None
            expires_at = keys.expiry_from_date(day)
        try:
            key, text = keys.create_key(
                membership, name=name, scope=scope, expires_at=expires_at, via="command"
            )
        except keys.KeyInvalid as e:
            raise CommandError(str(e)) from None
        until = f", until {key.expires_at:%Y-%m-%d %H:%M %Z}" if key.expires_at else ""
        self.stdout.write(
            f'Created {key.scope} key "{key.name}" ({key.shown_prefix}) in {institution.slug}, '
            f"acting as {membership.user.email}{until}. It is shown once; keep it secret:"
        )
        self.stdout.write(text)

    def handle_list(self, slug, **options):
        institution = institution_by_slug(slug)
        rows = ApiKey.objects.for_institution(institution).select_related("user", "membership")
        for key in rows:
            last = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
            who = key.user.email if key.user else "-"
            fields = [key.shown_prefix, key.scope, key.state(), who, f"last used {last}", key.name]
            self.stdout.write("\t".join(fields))
        if not rows:
            self.stdout.write(f"No keys in {institution.slug}.")

    def handle_revoke(self, prefix, **options):
        bare = prefix.strip().removeprefix("cpk_").split("_", 1)[0]
        key = ApiKey.objects.select_related("user").filter(prefix=bare).first()
        if key is None:
            raise CommandError(f"No key with the prefix {prefix!r}.")
        if keys.revoke_key(key, via="command"):
            self.stdout.write(f'Revoked key "{key.name}" ({key.shown_prefix}).')
        else:
            self.stdout.write(f'Key "{key.name}" ({key.shown_prefix}) was already revoked.')
