"""The Research API for members: their research login, raw data, DICOM exports.

A member connects their Clarius research account once: the password goes to
``token-auth/`` and is forgotten; the token is kept encrypted (``ResearchAccount``).
Research calls for an exam are made with the token of the member who asks. Raw-data and
DICOM files are copied into the portal's storage, because Clarius' links last 7 days.
"""

from __future__ import annotations

import zipfile
from contextlib import closing
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from integrations.clarius import clients
from integrations.clarius.api.client import ResearchClient
from integrations.clarius.api.errors import (
    AuthError,
    BadRequest,
    ClariusError,
    Forbidden,
    NotFound,
)
from integrations.clarius.api.explain import vendor_reason
from integrations.clarius.models import DicomExport, RawDataFile, ResearchAccount
from portal import encryption as secrets
from portal import work
from portal.text import clean_text
from portal.work.registry import nudge


class NotConnected(Exception):
    """The member has no research account connected (or it was disconnected)."""


# --- the member's research account -------------------------------------------------------


def connect(user, username: str, password: str) -> ResearchAccount:
    """Log in at Clarius and keep the token; ``Unauthorized`` for invalid credentials."""
    with closing(clients.research_client()) as client:
        token = client.authenticate(username, password)
    account, _ = ResearchAccount.objects.update_or_create(
        user=user,
        defaults={
            "username": username,
            "token_encrypted": secrets.encrypt(token),
            "connected_at": timezone.now(),
        },
    )
    return account


def disconnect(user) -> bool:
    """Forget the token (Clarius has no call to revoke it)."""
    deleted, _ = ResearchAccount.objects.filter(user=user).delete()
    return bool(deleted)


def account_of(user) -> ResearchAccount | None:
    return ResearchAccount.objects.filter(user=user).first() if user else None


def client_for(user) -> ResearchClient:
    account = account_of(user)
    if account is None:
        raise NotConnected("No research account is connected.")
    return clients.research_client(token=account.token)


def explain(error: ClariusError) -> str:
    """What a member should read when a research call fails."""
    if isinstance(error, BadRequest) and error.still_processing:
        return "Clarius is still processing this exam; that can take a few minutes."
    if isinstance(error, Forbidden):
        return (
            "Clarius refused: your research account may not see this exam. Research data "
            "needs the Research Bundle for the exam's institution."
        )
    if isinstance(error, NotFound):
        return "Clarius' Research API does not know this exam."
    if isinstance(error, AuthError):
        return "Clarius no longer accepts your research login. Connect your account again."
    if isinstance(error, BadRequest):
        return f"Clarius refused the request: {vendor_reason(error)}"
    return f"Clarius could not be reached or answered with an error ({error.message})."


# --- raw data ----------------------------------------------------------------------------


def raw_data(user, exam):
    """The exam's captures with their parsed metadata (live from Clarius)."""
    with closing(client_for(user)) as client:
        return client.list_raw_data(str(exam.exam_uuid))


def request_raw_file(user, exam, capture_uuid) -> RawDataFile:
    """Queue the download of one capture's raw data; again if an earlier one failed."""
    with transaction.atomic():
        row, created = RawDataFile.objects.select_for_update().get_or_create(
            exam=exam,
            capture_uuid=capture_uuid,
            defaults={"institution_id": exam.institution_id, "requested_by": user},
        )
        if created or row.state == RawDataFile.State.FAILED:
            row.state, row.requested_by, row.attempts = RawDataFile.State.PENDING, user, 0
            row.save(update_fields=["state", "requested_by", "attempts", *work.schedule_now(row)])
            nudge(row)
    return row


# --- DICOM export --------------------------------------------------------------------------


def request_dicom_export(user, exam, parameters: dict) -> DicomExport:
    """A pending export; the worker asks Clarius and downloads the file after commit."""
    with transaction.atomic():
        export = DicomExport(
            institution_id=exam.institution_id,
            exam=exam,
            requested_by=user,
            parameters=parameters,
        )
        work.schedule_now(export)
        export.save()
        nudge(export)
    return export


# The tags shown on the page: who, when, what device, what kind of image and encoding.
MAIN_TAGS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "TimezoneOffsetFromUTC",
    "Modality",
    "Manufacturer",
    "ManufacturerModelName",
    "InstitutionName",
    "SOPClassUID",
    "TransferSyntaxUID",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "DerivationDescription",
)


def dicom_tags(path: Path, content_type: str) -> dict[str, str]:
    """The main tags of a DICOM file, or of the first DICOM file in a ZIP archive.

    ``ValueError`` when there is no readable DICOM (pixel data is never read).
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        if content_type == "application/zip":
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.infolist() if not m.is_dir()]
                if not members:
                    raise ValueError("the archive is empty")
                with archive.open(members[0]) as member:
                    dataset = pydicom.dcmread(member, stop_before_pixels=True)
                    tags = {"FilesInArchive": str(len(members))}
                    tags.update(_main_tags(dataset))
        else:
            tags = _main_tags(pydicom.dcmread(path, stop_before_pixels=True))
    except ValueError:
        raise
    except (InvalidDicomError, zipfile.BadZipFile, OSError, EOFError) as e:
        raise ValueError(f"not a readable DICOM file: {e}") from None
    except Exception as e:
        # pydicom reads elements lazily and, on a mangled file, raises what the damaged
        # bytes lead it to (NotImplementedError for an unknown VR, struct.error,
        # KeyError...): all of them mean the same thing for an export.
        reason = clean_text(f"{type(e).__name__}: {e}", max_length=300)
        raise ValueError(f"not a readable DICOM file: {reason}") from None
    return tags


def _main_tags(dataset) -> dict[str, str]:
    """``MAIN_TAGS`` of a dataset as cleaned text; reading them parses their elements."""
    tags = {}
    for keyword in MAIN_TAGS:
        holder = dataset.file_meta if keyword == "TransferSyntaxUID" else dataset
        value = getattr(holder, keyword, None) if holder is not None else None
        if value is None or value == "":
            continue
        name = getattr(value, "name", "")  # a UID: its registered name reads better
        shown = f"{name} ({value})" if name and name != str(value) else str(value)
        # DICOM text may carry NUL padding or controls, which jsonb on PostgreSQL refuses.
        tags[keyword] = clean_text(shown, max_length=500)
    return tags


def research_dir(exam) -> str:
    """Stored beside the exam's captures (``portal.storage``), in the tenant's space."""
    return f"{exam.institution_id}/{exam.exam_uuid}/research"
