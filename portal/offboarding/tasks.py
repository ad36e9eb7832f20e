"""The worker's half of an export requested from the admin."""

import logging
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from portal import work
from portal.offboarding import exporting
from portal.offboarding.models import InstitutionExport

logger = logging.getLogger(__name__)
State = InstitutionExport.State


def export_folder() -> Path:
    folder = getattr(settings, "PORTAL_EXPORT_DIR", "") or Path(settings.VAR_DIR) / "exports"
    return Path(folder)


def run_export(export_id: int) -> str:
    row = work.claim(InstitutionExport, export_id, related=("institution",), state=State.PENDING)
    if row is None:
        return "not pending"
    folder = export_folder()
    moment = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    destination = folder / f"{row.institution.slug}-{moment}-{row.pk}.tar"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        manifest = exporting.export(row.institution, destination, user=row.requested_by)
    except Exception as e:
        logger.exception("export %s of institution %s failed", row.pk, row.institution_id)
        outcome, fields = work.fail_or_give_up(
            row, f"{type(e).__name__}: {e}", failed_state=State.FAILED
        )
        row.save(update_fields=fields)
        return State.FAILED if outcome == "failed" else "retry"
    records = sum(e["count"] for e in manifest["records"].values())
    files = sum(1 for e in manifest["files"] if e["path"].startswith("files/"))
    row.state = State.DONE
    row.path = str(destination)
    row.size = destination.stat().st_size
    row.manifest_sha256 = manifest["manifest_sha256"]
    row.summary = f"{records} records, {files} stored files, {len(manifest['absent_files'])} absent"
    row.finished_at = timezone.now()
    row.save(
        update_fields=[
            "state", "path", "size", "manifest_sha256", "summary", "finished_at",
            *work.finish(row),
        ]
    )  # fmt: skip
    return State.DONE
