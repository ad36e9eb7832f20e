"""What an institution's archive holds, in the order an import restores it.

Each ``Part`` is one model's rows of the institution (``institution`` unless ``scope``
says how a row without one belongs to it), written as ``records/<label>.jsonl``. The
rows keep every field as stored, foreign keys as the source portal's numbers; users are
written once, in ``records/accounts.user.jsonl``, with their address and name only.

``LEFT_OUT`` names every tenant-owned model that is deliberately not exported, and why:
secrets never leave the portal (API keys, Clarius customer tokens, webhook and
destination secrets, invitation tokens), and transient state (mail queues, inbox
notifications, planned purges) belongs to the portal that made it. A tenant-owned
model in neither list is named in the manifest's notes (and fails the test suite), so a
new model is a decision, not a silent omission.

Models are named by label, never imported: the core does not import integrations, and
an app that is not installed is simply skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.apps import apps
from django.db import models

FORMAT = "clarius-portal-institution-export"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Part:
    label: str
    # How a row belongs to the institution (a lookup taking the institution).
    scope: str = "institution"
    # Fields never written (secrets); an import leaves them at their default.
    omit: frozenset = field(default_factory=frozenset)
    # JSON fields whose keys are numbers of another part's rows (renumbered on import).
    id_keyed_json: dict = field(default_factory=dict)
    # The order rows are written in (the audit log in its chain order).
    order: tuple = ("pk",)

    @property
    def model(self):
        return apps.get_model(self.label)

    @property
    def installed(self) -> bool:
        try:
            apps.get_model(self.label)
        except LookupError:
            return False
        return True

    @property
    def path(self) -> str:
        return f"records/{self.label.lower()}.jsonl"


PARTS = [
    Part("tenants.Membership"),
    Part("notifications.NotificationPreference", scope="membership__institution"),
    Part("worksheets.ExamType"),
    Part("worksheets.WorksheetTemplate"),
    Part("qa.QASettings"),
    Part("qa.ExamTypeQA"),
    Part("exams.Exam"),
    Part("exams.Patient"),
    Part("exams.Submission"),
    Part("exams.Capture"),
    Part("reports.Findings", id_keyed_json={"key_images": "exams.Capture"}),
    Part("reports.Addendum"),
    Part("reports.Addendum_captures", scope="addendum__institution"),
    Part("reports.Report"),
    Part("reports.Delivery"),
    Part("qa.QAReview"),
    Part("qa.Credential"),
    Part("qa.Outcome"),
    # The destination's settings without its secret: an import leaves it switched off
    # until an administrator enters the secret again.
    Part("outbound.Destination", omit=frozenset({"secret_encrypted"})),
    Part("outbound.Transmission"),
    Part("clarius.DicomExport"),
    Part("clarius.RawDataFile"),
    Part("exams.AuditEvent", order=("seq", "at", "id")),
]

USERS_PATH = "records/accounts.user.jsonl"
INSTITUTION_PATH = "records/tenants.institution.jsonl"
# What is kept of a user: who they are, never how they sign in.
USER_FIELDS = ("id", "email", "full_name", "credentials", "is_active", "date_joined")

LEFT_OUT = {
    "tenants.Invitation": "open invitations are one-time tokens (kept as hashes); "
    "the new portal's administrator invites again",
    "api.ApiKey": "API keys are secrets and never leave the portal; programs get new keys",
    "clarius.ClariusLink": "a member's Clarius link holds the customer token (a secret); "
    "members link their Clarius accounts again",
    "webhooks.Endpoint": "webhook endpoints hold signing secrets; they are set up again",
    "webhooks.Event": "the log of webhook events sent to the left-out endpoints",
    "webhooks.Delivery": "the log of webhook deliveries to the left-out endpoints",
    "notifications.Notification": "inbox notifications are transient and link to the "
    "source portal's pages",
    "notifications.Email": "the outgoing mail queue (with unsubscribe links) of the source portal",
    "notifications.DigestEntry": "pending digest lines of the source portal's mail",
    "retention.MediaPurge": "planned media removals: the new portal plans its own from "
    "the institution's retention period",
    "exams.AuditChainHead": "not a record: rebuilt from the last audit event on import",
    "offboarding.InstitutionExport": "the portal's own requests for this archive",
}

NOTES = [
    "Secrets never leave the portal: no password hashes, API keys, Clarius customer "
    "tokens, webhook or destination secrets, invitation tokens or second-factor devices "
    "are in this archive (see left_out).",
    "Rows keep the source portal's numbers (ids); the audit log's object ids refer to "
    "them. An import into a portal that has none of them keeps them.",
    "Imported destinations are switched off until their secret is entered again; "
    "imported users who had no account are inactive, without a usable password.",
]


def parts() -> list[Part]:
    """The parts of this installation (an app that is not installed has none)."""
    return [part for part in PARTS if part.installed]


def part_of_model(model) -> Part | None:
    for part in parts():
        if part.model is model:
            return part
    return None


def unclassified() -> list[str]:
    """Tenant-owned models that are neither exported nor deliberately left out."""
    from portal.tenants.scoping import TenantOwned

    known = {part.label for part in PARTS} | set(LEFT_OUT)
    return sorted(
        model._meta.label
        for model in apps.get_models()
        if issubclass(model, TenantOwned) and model._meta.label not in known
    )


def columns(part: Part) -> list[models.Field]:
    """The stored fields of a part's rows, as written (generated columns excluded)."""
    return [
        f
        for f in part.model._meta.concrete_fields
        if f.name not in part.omit and not isinstance(f, models.GeneratedField)
    ]


def user_model():
    from django.contrib.auth import get_user_model

    return get_user_model()


def is_user_field(f) -> bool:
    return f.is_relation and f.related_model is user_model()


def is_institution_field(f) -> bool:
    from portal.tenants.models import Institution

    return f.is_relation and f.related_model is Institution


def target_part(f) -> Part | None:
    """The part a foreign key of a record points into (None for users/institution)."""
    if not f.is_relation or is_user_field(f) or is_institution_field(f):
        return None
    return part_of_model(f.related_model)


def check() -> list[str]:
    """Problems with the plan itself: a foreign key into something not exported."""
    problems = []
    for part in parts():
        for f in columns(part):
            outside = f.is_relation and not (is_user_field(f) or is_institution_field(f))
            if outside and target_part(f) is None:
                target = f.related_model._meta.label
                problems.append(f"{part.label}.{f.name} points to {target}")
    return problems


def stored_fields(part: Part) -> dict[str, str]:
    """The part's fields naming stored files, with the field holding their SHA-256."""
    return dict(getattr(part.model, "stored_files", {}))
