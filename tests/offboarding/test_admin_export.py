"""An export requested from the admin: superusers only; a worker writes it as durable
work, and the archive verifies."""

import io

import pytest
from django.core.management import call_command
from django.urls import reverse

from portal.offboarding import tasks
from portal.offboarding.models import InstitutionExport
from tests.conftest import make_user


@pytest.fixture
def root(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root@example.org", "root-password-1!")


@pytest.fixture
def export_dir(settings, tmp_path):
    settings.PORTAL_EXPORT_DIR = str(tmp_path / "exports")
    return tmp_path / "exports"


def test_a_superuser_requests_an_export_and_a_worker_writes_it(
    client, root, local_storage, world, northside, export_dir
):
    client.force_login(root)
    add = reverse("admin:offboarding_institutionexport_add")
    assert client.get(add).status_code == 200
    response = client.post(add, {"institution": northside.pk})
    assert response.status_code == 302
    row = InstitutionExport.objects.get()
    assert row.requested_by == root and row.state == "pending" and row.next_attempt_at
    assert tasks.run_export(row.pk) == "done"
    row.refresh_from_db()
    assert row.state == "done" and row.size and len(row.manifest_sha256) == 64
    assert row.path.startswith(str(export_dir)) and row.institution_id == northside.pk
    out = io.StringIO()
    call_command("verify_export", row.path, stdout=out)
    assert "sound" in out.getvalue()
    assert tasks.run_export(row.pk) == "not pending"
    page = client.get(reverse("admin:offboarding_institutionexport_change", args=[row.pk]))
    assert page.status_code == 200 and row.manifest_sha256.encode() in page.content


def test_a_failed_export_is_retried_then_shown_failed(
    root, local_storage, world, northside, settings, tmp_path
):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    settings.PORTAL_EXPORT_DIR = str(blocked / "exports")
    row = InstitutionExport.objects.create(institution=northside, requested_by=root)
    InstitutionExport.objects.filter(pk=row.pk).update(next_attempt_at="2000-01-01T00:00Z")
    assert tasks.run_export(row.pk) == "retry"
    row.refresh_from_db()
    assert row.state == "pending" and row.last_error and not row.path


@pytest.mark.parametrize("who", ["alice", "bob", "charlie", "staff"])
def test_only_superusers_see_exports(client, who, trio, northside):
    users = dict(zip(["alice", "bob", "charlie"], trio, strict=True))
    if who == "staff":
        users["staff"] = make_user("staff@example.org")
        users["staff"].is_staff = True
        users["staff"].save()
    client.force_login(users[who])
    for url in (
        reverse("admin:offboarding_institutionexport_changelist"),
        reverse("admin:offboarding_institutionexport_add"),
    ):
        response = client.get(url)
        assert response.status_code in (302, 403), (who, url, response.status_code)
    assert not InstitutionExport.objects.exists()
