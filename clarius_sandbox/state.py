"""Everything the simulated Clarius Cloud knows, in memory, behind one lock.

Handlers on the API server, the media server, the web page, the notification worker and
test code all touch this object from different threads: every read-modify-write happens
under ``state.lock`` (re-entrant, so helpers may nest). Objects are plain dataclasses so
tests can look at them directly.
"""

from __future__ import annotations

import datetime as dt
import hmac
import random
import re
import secrets
import string
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from . import catalogue, patients

CAPTURE_LINK_TTL = 15 * 60  # §4: "short-lived"; S3-style pre-signed links
RESEARCH_LINK_TTL = 7 * 24 * 3600  # §10: "valid for 7 days"
RECORD_RETENTION = dt.timedelta(days=14)  # §6
_KEY_ALPHABET = string.ascii_letters + string.digits


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def isoformat(moment: dt.datetime) -> str:
    """``2022-10-22T03:10:47.231755Z``, the vendor's timestamp style."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_customer_token() -> str:
    """43 URL-safe characters, like ``eYENW6HO4xdM0KlGO2kBXtTbD5XX1LTfdV-vYslapMY``."""
    return secrets.token_urlsafe(32)


def new_api_key() -> str:
    """``<8-char prefix>.<32-char secret>``, like ``Q4nmtzH5.mvIzWOlklcrFJ3iWaJTFESYCzCe8j6TQ``."""
    prefix = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(8))
    secret = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(32))
    return f"{prefix}.{secret}"


def seed_of(text: str) -> int:
    """A stable 63-bit seed from a UUID string (generated media depends only on it)."""
    return uuid.UUID(text).int & (2**63 - 1)


@dataclass
class SandboxUser:
    name: str
    email: str
    customer_token: str
    research_bundle: bool = False
    created_at: dt.datetime = field(default_factory=now)
    confirmed_at: dt.datetime | None = None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


CaptureKind = Literal["image", "video", "padded"]


@dataclass
class SandboxCapture:
    capture_uuid: str
    exam_uuid: str
    kind: CaptureKind
    size: int | None = None  # only for "padded": the exact byte count to stream
    created_at: dt.datetime = field(default_factory=now)

    @property
    def seed(self) -> int:
        return seed_of(self.capture_uuid)

    @property
    def content_type(self) -> str:
        return "image/jpeg" if self.kind == "image" else "video/mp4"

    @property
    def extension(self) -> str:
        return "jpg" if self.kind == "image" else "mp4"


@dataclass
class SandboxReport:
    report_id: str
    request_uuid: str
    name: str
    filename: str
    content_type: str
    data: bytes
    received_at: dt.datetime = field(default_factory=now)


@dataclass
class DicomExport:
    """One ``POST exams/dicom/<exam>/``: what arrived, and how it was understood."""

    export_id: str
    exam_uuid: str
    received: dict[str, Any]  # the parameters exactly as sent (after JSON/form decoding)
    params: dict[str, Any]  # validated, with the vendor defaults filled in
    errors: dict[str, list[str]] = field(default_factory=dict)  # why it got 400, if it did
    requested_at: dt.datetime = field(default_factory=now)


@dataclass
class SandboxExam:
    exam_uuid: str
    customer_token: str
    patient: dict[str, Any]
    application: str
    probe_model: str
    probe_serial: str
    captures: list[SandboxCapture] = field(default_factory=list)
    processing: bool = False
    created_at: dt.datetime = field(default_factory=now)
    request_uuids: list[str] = field(default_factory=list)
    dicom_exports: list[DicomExport] = field(default_factory=list)


@dataclass
class SandboxRequest:
    """One submission of an exam: what a notification announces."""

    request_uuid: str
    exam_uuid: str
    customer_id: str
    submitted_at: dt.datetime
    download_url: str
    capture_uuids: list[str]  # the exam's captures at the time of this submission
    reports: list[SandboxReport] = field(default_factory=list)

    def notification_payload(self) -> dict[str, str]:
        return {
            "request_uuid": self.request_uuid,
            "exam_uuid": self.exam_uuid,
            "customer_id": self.customer_id,
            "download_url": self.download_url,
            "submitted_at": isoformat(self.submitted_at),
        }


@dataclass
class ApiKey:
    prefix: str
    name: str
    secret: str
    created: dt.datetime = field(default_factory=now)

    @property
    def key(self) -> str:
        return f"{self.prefix}.{self.secret}"

    def as_json(self) -> dict[str, str]:
        return {"prefix": self.prefix, "name": self.name, "created": isoformat(self.created)}


@dataclass
class NotificationRecord:
    request_uuid: str
    url: str
    content: str
    sent_at: dt.datetime
    logged_at: dt.datetime
    response: dict[str, Any] | None
    error: str | None
    method: str = "POST"

    @property
    def delivered(self) -> bool:
        return self.response is not None and 200 <= self.response["status_code"] < 300

    def as_json(self) -> dict[str, Any]:
        return {
            "logged_at": isoformat(self.logged_at),
            "event": {
                "sent_at": isoformat(self.sent_at),
                "request": {"url": self.url, "method": self.method, "content": self.content},
                "response": self.response,
                "error": self.error,
            },
        }


class RevokeRefused(Exception):
    """The key cannot be revoked (it is the one making the request)."""


class SandboxState:
    """The whole simulated account of one integration partner ("the service")."""

    def __init__(
        self,
        api_url: str,
        api_key: str,
        research_username: str,
        research_password: str,
        *,
        send_application: bool = False,
    ):
        self.lock = threading.RLock()
        # What reset() puts ``send_application`` back to (the CLI's --send-application).
        self.send_application_default = send_application
        self.api_url = api_url
        self.initial_api_key = api_key
        self.research_username = research_username
        self.research_password = research_password
        self.clear()

    def clear(self) -> None:
        """Back to the state right after onboarding: one API key, nothing else."""
        with self.lock:
            self.generation = getattr(self, "generation", 0) + 1
            self.users: dict[str, SandboxUser] = {}
            self.exams: dict[str, SandboxExam] = {}
            self.requests: dict[str, SandboxRequest] = {}
            self.captures: dict[str, SandboxCapture] = {}
            self.reports: dict[str, SandboxReport] = {}
            self.dicom_exports: dict[str, DicomExport] = {}
            self.settings: dict[str, str] = {"notification_url": "", "token_transfer_url": ""}
            self.notification_records: list[NotificationRecord] = []  # oldest first
            self.customisations: dict[str, list[dict[str, Any]]] = {}
            self.research_tokens: set[str] = set()
            self.leaked_credentials: list[dict[str, str]] = []
            prefix, _, secret = self.initial_api_key.partition(".")
            self.api_keys: dict[str, ApiKey] = {
                prefix: ApiKey(prefix=prefix, name="Onboarding key", secret=secret)
            }
            # Knobs tests may turn; clear() puts them back.
            self.capture_link_ttl: float = CAPTURE_LINK_TTL
            self.research_link_ttl: float = RESEARCH_LINK_TTL
            self.notify_unconfirmed = True
            self.download_url_style = "exams"  # or "bare": .../download-requests/<r>/data/
            # The exam data names the exam's application (a field a service may have
            # Clarius add, §4); off by default, as in the recorded payloads.
            self.send_application = self.send_application_default

    # --- users and linking -------------------------------------------------------------

    def add_user(
        self, name: str, email: str | None = None, *, research_bundle: bool = False
    ) -> SandboxUser:
        with self.lock:
            if email is None:
                local = re.sub(r"[^a-z0-9]+", ".", name.lower()).strip(".") or "user"
                email = f"{local}.{len(self.users) + 1}@example.com"
            user = SandboxUser(name, email, new_customer_token(), research_bundle)
            self.users[user.customer_token] = user
            return user

    def user(self, user_or_token: SandboxUser | str) -> SandboxUser:
        token = getattr(user_or_token, "customer_token", user_or_token)
        with self.lock:
            try:
                return self.users[token]
            except KeyError:
                raise KeyError(f"no sandbox user with customer token {token!r}") from None

    def confirm(self, token: str) -> bool:
        """Customer Confirmation: ``False`` when no customer has this token."""
        with self.lock:
            user = self.users.get(token)
            if user is None:
                return False
            if user.confirmed_at is None:
                user.confirmed_at = now()
            return True

    def confirmed_tokens(self) -> list[str]:
        with self.lock:
            confirmed = [u for u in self.users.values() if u.confirmed_at]
            confirmed.sort(key=lambda u: u.confirmed_at or now())
            return [u.customer_token for u in confirmed]

    # --- exams ---------------------------------------------------------------------------

    def download_url(self, request_uuid: str) -> str:
        middle = "exams/" if self.download_url_style == "exams" else ""
        return f"{self.api_url}{middle}download-requests/{request_uuid}/data/"

    def submit_exam(
        self,
        user_or_token: SandboxUser | str,
        *,
        captures: int = 3,
        videos: int = 1,
        animal: bool = False,
        exam_uuid: str | None = None,
        capture_size: int | None = None,
        processing: bool = False,
        patient: dict[str, Any] | None = None,
        application: str | None = None,
    ) -> SandboxRequest:
        """A new submission; re-using an ``exam_uuid`` resubmits that exam with more captures."""
        if captures < 0 or videos < 0 or (capture_size is not None and capture_size < 1):
            raise ValueError("captures and videos must be >= 0, capture_size >= 1")
        if exam_uuid is not None:
            exam_uuid = str(uuid.UUID(exam_uuid))  # ValueError for anything but a UUID
        with self.lock:
            user = self.user(user_or_token)
            exam = self.exams.get(exam_uuid) if exam_uuid else None
            if exam is None:
                exam = self._new_exam(user, exam_uuid or str(uuid.uuid4()), animal, patient)
                if application:
                    exam.application = application
            elif exam.customer_token != user.customer_token:
                raise ValueError(f"exam {exam.exam_uuid} belongs to another user")
            exam.processing = processing
            kinds: list[tuple[CaptureKind, int | None]] = [("image", None)] * captures
            kinds += [("video", None)] * videos
            if capture_size is not None:
                kinds.append(("padded", capture_size))
            for kind, size in kinds:
                capture = SandboxCapture(str(uuid.uuid4()), exam.exam_uuid, kind, size)
                exam.captures.append(capture)
                self.captures[capture.capture_uuid] = capture
            request_uuid = str(uuid.uuid4())
            request = SandboxRequest(
                request_uuid=request_uuid,
                exam_uuid=exam.exam_uuid,
                customer_id=user.customer_token,
                submitted_at=now(),
                download_url=self.download_url(request_uuid),
                capture_uuids=[c.capture_uuid for c in exam.captures],
            )
            exam.request_uuids.append(request_uuid)
            self.requests[request_uuid] = request
            return request

    def _new_exam(
        self, user: SandboxUser, exam_uuid: str, animal: bool, patient: dict[str, Any] | None
    ) -> SandboxExam:
        rng = random.Random(seed_of(exam_uuid))  # noqa: S311 -- reproducible fake data
        probe_model, _ = rng.choice(catalogue.PROBES)
        exam = SandboxExam(
            exam_uuid=exam_uuid,
            customer_token=user.customer_token,
            patient=patient if patient is not None else patients.make_patient(rng, animal),
            application=rng.choice(catalogue.APPLICATION_NAMES),
            probe_model=probe_model,
            probe_serial=f"{probe_model.replace(' ', '')}-{rng.randrange(10**6):06d}",
        )
        self.exams[exam_uuid] = exam
        return exam

    def accessible_requests(self, customer_id: str | None = None) -> list[SandboxRequest]:
        """Submissions of confirmed customers, oldest first (stable while paging)."""
        with self.lock:
            return [
                r
                for r in self.requests.values()
                if self.users[r.customer_id].confirmed
                and (customer_id is None or r.customer_id == customer_id)
            ]

    def add_report(
        self, request_uuid: str, name: str, filename: str, content_type: str, data: bytes
    ) -> SandboxReport:
        with self.lock:
            report = SandboxReport(
                uuid.uuid4().hex, request_uuid, name, filename, content_type, data
            )
            self.requests[request_uuid].reports.append(report)
            self.reports[report.report_id] = report
            return report

    # --- API keys and research tokens ------------------------------------------------------

    def authenticate_key(self, presented: str) -> ApiKey | None:
        prefix, dot, secret = presented.partition(".")
        with self.lock:
            key = self.api_keys.get(prefix)
        if key is None or not dot or not hmac.compare_digest(key.secret, secret):
            return None
        return key

    def create_key(self, name: str) -> ApiKey:
        with self.lock:
            while True:
                prefix, _, secret = new_api_key().partition(".")
                if prefix not in self.api_keys:
                    break
            key = ApiKey(prefix=prefix, name=name, secret=secret)
            self.api_keys[prefix] = key
            return key

    def revoke_key(self, prefix: str, requested_by: ApiKey) -> bool:
        """``False`` when unknown; raises ``RevokeRefused`` for the requesting key."""
        with self.lock:
            if prefix not in self.api_keys:
                return False
            if prefix == requested_by.prefix:
                raise RevokeRefused("The API key making this request cannot revoke itself.")
            del self.api_keys[prefix]
            return True

    def issue_research_token(self, username: str, password: str) -> str | None:
        ok_user = hmac.compare_digest(username.encode(), self.research_username.encode())
        ok_pass = hmac.compare_digest(password.encode(), self.research_password.encode())
        if not (ok_user and ok_pass):
            return None
        with self.lock:
            # Like DRF's authtoken: one token per user, handed out again on every login.
            if not self.research_tokens:
                self.research_tokens.add(secrets.token_hex(32))
            return next(iter(self.research_tokens))

    # --- notification records --------------------------------------------------------------

    def add_record(self, record: NotificationRecord) -> None:
        with self.lock:
            self.notification_records.append(record)
            cutoff = now() - RECORD_RETENTION
            self.notification_records = [
                r for r in self.notification_records if r.logged_at >= cutoff
            ]

    def records_newest_first(self) -> list[NotificationRecord]:
        with self.lock:
            return list(reversed(self.notification_records))
