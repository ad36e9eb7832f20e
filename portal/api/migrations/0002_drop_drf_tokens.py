"""The per-user DRF tokens are gone: their table (unhashed keys) is dropped where it exists."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_api_keys"),
    ]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", migrations.RunSQL.noop),
    ]
