"""The audit chain's heads, and the chain for the events written before it existed.

The backfill numbers and hashes each institution's existing events in the order
(at, id), a batch at a time (portal.exams.audit_chain.backfill), so that it runs in
bounded memory on a large log. ``at`` and ``user`` change only in Django's state: the
columns stay as they are (SQLite would otherwise copy the whole table).
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from portal.exams import audit_chain


def chain_existing_events(apps, schema_editor):
    using = schema_editor.connection.alias
    Institution = apps.get_model("tenants", "Institution")
    AuditEvent = apps.get_model("exams", "AuditEvent")
    AuditChainHead = apps.get_model("exams", "AuditChainHead")
    institution_ids = Institution.objects.using(using).order_by("pk").values_list("pk", flat=True)
    for institution_id in institution_ids.iterator(chunk_size=audit_chain.BATCH):
        AuditChainHead.objects.using(using).get_or_create(
            institution_id=institution_id,
            defaults={"seq": 0, "hash": audit_chain.GENESIS},
        )
    audit_chain.backfill(AuditEvent, AuditChainHead, using=using)


class Migration(migrations.Migration):
    dependencies = [
        ("exams", "0015_audit_chain_media_purged"),
        ("tenants", "0008_identity_and_retention"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditChainHead",
            fields=[
                (
                    "institution",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="tenants.institution",
                    ),
                ),
                ("seq", models.PositiveBigIntegerField(default=0)),
                ("hash", models.CharField(default=audit_chain.GENESIS, max_length=64)),
            ],
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditevent",
                    name="at",
                    field=models.DateTimeField(
                        db_index=True, default=django.utils.timezone.now, editable=False
                    ),
                ),
                migrations.AlterField(
                    model_name="auditevent",
                    name="user",
                    field=models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop),
    ]
