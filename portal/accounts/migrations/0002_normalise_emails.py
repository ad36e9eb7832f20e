"""Store every account's email in the one normalised spelling (NFKC, case-folded).

Login now matches the normalised address exactly, so an account stored otherwise could
no longer log in. If two accounts normalise to the same address (``Straße@x.org`` and
``strasse@x.org``), neither is changed and the migration stops, naming them: merging
them, or choosing which one keeps the address, is a person's decision, not a migration's.
Change or remove one of them (``manage.py shell``, or admin before upgrading) and run
``migrate`` again.
"""

from collections import defaultdict

from django.db import migrations

from portal.accounts.addresses import normalise_email


class EmailCollision(Exception):
    pass


def collisions(pairs):
    """``{normalised: [(pk, email), ...]}`` for addresses held by more than one account."""
    by_address = defaultdict(list)
    for pk, email in pairs:
        by_address[normalise_email(email)].append((pk, email))
    return {address: rows for address, rows in by_address.items() if len(rows) > 1}


def normalise(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    pairs = list(User.objects.order_by("pk").values_list("pk", "email"))
    clashing = collisions(pairs)
    if clashing:
        lines = [
            f"  {address}: " + ", ".join(f"user {pk} <{email}>" for pk, email in rows)
            for address, rows in sorted(clashing.items())
        ]
        raise EmailCollision(
            "These accounts' email addresses are the same once normalised, and logins "
            "can only reach one of each; nothing was changed. Change or remove all but "
            "one of each, then run migrate again:\n" + "\n".join(lines)
        )
    for pk, email in pairs:
        if normalise_email(email) != email:
            User.objects.filter(pk=pk).update(email=normalise_email(email))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(normalise, migrations.RunPython.noop, elidable=False),
    ]
