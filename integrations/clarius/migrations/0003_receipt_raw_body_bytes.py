"""Keep a notification's raw body as bytes.

A text column on PostgreSQL cannot hold a NUL, so a body carrying one could not be
recorded at all. The existing text is copied as UTF-8 (a cast from text to bytea would
read backslashes as escapes), then the new column takes the old one's name.
"""

from django.db import migrations, models

BATCH = 1000


def copy_bodies(apps, schema_editor):
    Receipt = apps.get_model("clarius", "NotificationReceipt")
    rows = Receipt.objects.exclude(raw_body="").only("pk", "raw_body").order_by("pk")
    batch = []
    for receipt in rows.iterator(chunk_size=BATCH):
        receipt.raw_body_bytes = receipt.raw_body.encode("utf-8", errors="surrogatepass")
        batch.append(receipt)
        if len(batch) >= BATCH:
            Receipt.objects.bulk_update(batch, ["raw_body_bytes"])
            batch = []
    if batch:
        Receipt.objects.bulk_update(batch, ["raw_body_bytes"])


def copy_bodies_back(apps, schema_editor):
    Receipt = apps.get_model("clarius", "NotificationReceipt")
    rows = Receipt.objects.only("pk", "raw_body_bytes").order_by("pk")
    batch = []
    for receipt in rows.iterator(chunk_size=BATCH):
        body = bytes(receipt.raw_body_bytes or b"")
        if not body:
            continue
        # Going back to text: what a text column cannot hold is dropped.
        receipt.raw_body = body.decode("utf-8", errors="replace").replace("\x00", "")
        batch.append(receipt)
        if len(batch) >= BATCH:
            Receipt.objects.bulk_update(batch, ["raw_body"])
            batch = []
    if batch:
        Receipt.objects.bulk_update(batch, ["raw_body"])


class Migration(migrations.Migration):
    dependencies = [
        ("clarius", "0002_service_account_and_research"),
    ]

    operations = [
        migrations.AddField(
            model_name="notificationreceipt",
            name="raw_body_bytes",
            field=models.BinaryField(blank=True, default=b""),
        ),
        migrations.RunPython(copy_bodies, copy_bodies_back),
        migrations.RemoveField(model_name="notificationreceipt", name="raw_body"),
        migrations.RenameField(
            model_name="notificationreceipt", old_name="raw_body_bytes", new_name="raw_body"
        ),
    ]
