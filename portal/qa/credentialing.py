"""Credentialing: QA-passed exams counted toward each operator's privileges.

Only first reads count (a calibration second read is about the reviewer, not the
operator). An operator is credentialed for an exam type by count the moment a passed
review brings them to the threshold (``ExamTypeQA.required_passed``); the ``Credential``
row keeps that date. An administrator may grant one by hand, with a note, and revoke a
grant (never a credential earned by count).

``progress`` reads everyone's counts in one ``GROUP BY`` (operator, exam type, state,
passed) and a few more queries, whatever the number of operators: the credentialing
pages, the letter, the API and the program dashboard use it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from portal.qa.models import Credential, QAReview
from portal.qa.program import exam_type_qa, required_by_type, settings_for
from portal.tenants.models import Membership
from portal.text import clean_text, has_unstorable
from portal.worksheets.models import ExamType


def passed_count(institution_id, operator_id, exam_type_id) -> int:
    return QAReview.objects.filter(
        institution_id=institution_id,
        operator_id=operator_id,
        exam_type_id=exam_type_id,
        read=QAReview.FIRST_READ,
        state=QAReview.State.DONE,
        passed=True,
    ).count()


def record_if_reached(review: QAReview, now) -> Credential | None:
    """Inside the scoring transaction: write the credential when ``review`` reached the
    threshold (None when it did not, or one exists already)."""
    if review.operator_id is None or review.exam_type_id is None:
        return None
    existing = Credential.objects.filter(
        institution_id=review.institution_id,
        user_id=review.operator_id,
        exam_type_id=review.exam_type_id,
    ).exists()
    if existing:
        return None
    required = exam_type_qa(review.exam_type).required_passed
    if passed_count(review.institution_id, review.operator_id, review.exam_type_id) < required:
        return None
    credential, _ = Credential.objects.get_or_create(
        institution_id=review.institution_id,
        user_id=review.operator_id,
        exam_type_id=review.exam_type_id,
        defaults={"basis": Credential.Basis.COUNT, "since": now},
    )
    return credential


# --- Progress, grants and revocations -------------------------------------------------


class CredentialRefused(Exception):
    """A grant or revocation refused; the message says why. ``field``: the input at
    fault (a 400); ``conflict``: the credentials as they stand refuse it (a 409)."""

    def __init__(self, message: str, *, field: str | None = None, conflict: bool = False):
        super().__init__(message)
        self.field = field
        self.conflict = conflict


# A grant's note and a revocation's reason: a sentence or two for the medical staff office.
NOTE_LIMIT = 2000

IN_TRAINING, BY_COUNT, BY_GRANT = "in_training", "count", "grant"
STATUS_LABELS = {
    IN_TRAINING: "In training",
    BY_COUNT: "Credentialed (by count)",
    BY_GRANT: "Credentialed (granted)",
}


@dataclass
class TypeProgress:
    """One operator's progress for one exam type."""

    exam_type: ExamType
    required: int
    passed: int = 0
    failed: int = 0
    pending: int = 0
    credential: Credential | None = None

    @property
    def status(self) -> str:
        if self.credential is None:
            return IN_TRAINING
        return BY_GRANT if self.credential.basis == Credential.Basis.GRANT else BY_COUNT

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def is_credentialed(self) -> bool:
        return self.credential is not None

    @property
    def since(self):
        """When the threshold was reached (by count) or the grant made."""
        return self.credential.since if self.credential else None

    @property
    def shown_passed(self) -> int:
        """The bar's value: a bar never runs past its end."""
        return min(self.passed, self.required)

    @property
    def scored(self) -> int:
        return self.passed + self.failed

    @property
    def has_activity(self) -> bool:
        return bool(self.passed or self.failed or self.pending or self.credential)


@dataclass
class OperatorProgress:
    user: object
    types: list[TypeProgress] = field(default_factory=list)
    total_required: int = 0

    @property
    def total_passed(self) -> int:
        return sum(t.passed for t in self.types)

    @property
    def shown_total(self) -> int:
        return min(self.total_passed, self.total_required)

    @property
    def credentialed(self) -> list[TypeProgress]:
        return [t for t in self.types if t.is_credentialed]

    def for_type(self, exam_type_id) -> TypeProgress | None:
        return next((t for t in self.types if t.exam_type.pk == exam_type_id), None)


def progress(institution_id, user_ids=None) -> list[OperatorProgress]:
    """Every member's progress (or those of ``user_ids``), per exam type, in a constant
    number of queries: the counts are one GROUP BY over the QA reviews.

    The exam types listed are the institution's types in use, and any retired one an
    operator has QA reviews or a credential for."""
    program = settings_for(institution_id)
    members = Membership.objects.filter(institution_id=institution_id).select_related("user")
    reviews = QAReview.objects.filter(
        institution_id=institution_id,
        read=QAReview.FIRST_READ,
        operator_id__isnull=False,
        exam_type_id__isnull=False,
    )
    credentials = Credential.objects.filter(institution_id=institution_id).select_related(
        "granted_by"
    )
    if user_ids is not None:
        user_ids = list(user_ids)
        members = members.filter(user_id__in=user_ids)
        reviews = reviews.filter(operator_id__in=user_ids)
        credentials = credentials.filter(user_id__in=user_ids)
    users = sorted(
        (m.user for m in members),
        key=lambda u: ((u.get_full_name() or u.email).casefold(), u.pk),
    )
    counts = (
        reviews.values("operator_id", "exam_type_id", "state", "passed")
        .annotate(n=Count("id"))
        .order_by()
    )
    tally: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in counts:
        cell = tally[(row["operator_id"], row["exam_type_id"])]
        if row["state"] == QAReview.State.PENDING:
            cell[2] += row["n"]
        elif row["passed"]:
            cell[0] += row["n"]
        else:
            cell[1] += row["n"]
    held = {(c.user_id, c.exam_type_id): c for c in credentials}
    used = {type_id for _, type_id in tally} | {type_id for _, type_id in held}
    exam_types = list(
        ExamType.objects.filter(institution_id=institution_id).filter(
            Q(is_active=True) | Q(pk__in=used)
        )
    )
    required = required_by_type(institution_id, exam_types)
    result = []
    for user in users:
        row = OperatorProgress(user=user, total_required=program.total_required)
        for exam_type in exam_types:
            passed, failed, pending = tally.get((user.pk, exam_type.pk), (0, 0, 0))
            row.types.append(
                TypeProgress(
                    exam_type=exam_type,
                    required=required[exam_type.pk],
                    passed=passed,
                    failed=failed,
                    pending=pending,
                    credential=held.get((user.pk, exam_type.pk)),
                )
            )
        result.append(row)
    return result


def operator_progress(institution_id, user) -> OperatorProgress:
    found = progress(institution_id, [user.pk])
    return found[0] if found else OperatorProgress(user=user)


def _checked_note(text, name: str, what: str) -> str:
    if not isinstance(text, str):
        raise CredentialRefused(f"{what} must be text.", field=name)
    if has_unstorable(text):
        raise CredentialRefused(f"{what} holds characters that cannot be stored.", field=name)
    text = clean_text(text, multiline=True).strip()
    if not text:
        raise CredentialRefused(f"{what} is required.", field=name)
    if len(text) > NOTE_LIMIT:
        raise CredentialRefused(f"{what} may be at most {NOTE_LIMIT} characters.", field=name)
    return text


def grant(institution_id, user, exam_type, granted_by, note, now=None) -> Credential:
    """An administrator credentials ``user`` for ``exam_type`` by hand, with a note
    (e.g. prior credentials from another hospital). Raises ``CredentialRefused``."""
    note = _checked_note(note, "note", "A note saying why")
    if exam_type.institution_id != institution_id:
        raise CredentialRefused("Choose one of the institution's exam types.", field="exam_type")
    if not Membership.objects.filter(institution_id=institution_id, user=user).exists():
        raise CredentialRefused(
            "Only members of the institution are credentialed here.", field="user"
        )
    with transaction.atomic():
        existing = (
            Credential.objects.select_for_update()
            .filter(institution_id=institution_id, user=user, exam_type=exam_type)
            .first()
        )
        if existing is not None:
            how = "by count" if existing.basis == Credential.Basis.COUNT else "by a grant"
            raise CredentialRefused(
                f"{user.get_full_name() or user.email} is credentialed for {exam_type.name} "
                f"already ({how}).",
                conflict=True,
            )
        return Credential.objects.create(
            institution_id=institution_id,
            user=user,
            exam_type=exam_type,
            basis=Credential.Basis.GRANT,
            since=now or timezone.now(),
            granted_by=granted_by,
            note=note,
        )


def revoke(
    institution_id, user, exam_type, reason, now=None
) -> tuple[Credential, Credential | None]:
    """Withdraw an administrator's grant, with a reason. A credential earned by count is
    not withdrawn by hand. Returns the grant removed (its ``pk`` kept for the audit log)
    and the credential by count that replaces it when the operator has reached the
    threshold meanwhile (else ``None``). Raises ``CredentialRefused``."""
    reason = _checked_note(reason, "reason", "A reason")
    with transaction.atomic():
        credential = (
            Credential.objects.select_for_update()
            .filter(institution_id=institution_id, user=user, exam_type=exam_type)
            .first()
        )
        if credential is None:
            raise CredentialRefused(f"No credential for {exam_type.name} to revoke.", conflict=True)
        if credential.basis != Credential.Basis.GRANT:
            raise CredentialRefused(
                "This credential was earned by count (QA-passed exams): only a grant made "
                "by hand can be revoked here.",
                conflict=True,
            )
        pk = credential.pk
        credential.delete()
        credential.pk = pk
        replacement = _earned(institution_id, user, exam_type)
        return credential, replacement


def _earned(institution_id, user, exam_type) -> Credential | None:
    """The credential by count ``user`` has earned for ``exam_type`` (written now, dated
    when the threshold was reached), or ``None`` when they have not."""
    required = exam_type_qa(exam_type).required_passed
    reached = (
        QAReview.objects.filter(
            institution_id=institution_id,
            operator_id=user.pk,
            exam_type_id=exam_type.pk,
            read=QAReview.FIRST_READ,
            state=QAReview.State.DONE,
            passed=True,
        )
        .order_by("scored_at", "id")
        .values_list("scored_at", flat=True)[required - 1 : required]
    )
    reached = list(reached)
    if not reached:
        return None
    return Credential.objects.create(
        institution_id=institution_id,
        user=user,
        exam_type=exam_type,
        basis=Credential.Basis.COUNT,
        since=reached[0],
    )


def first_reads_of(institution_id, user_id):
    """The operator's scored first reads, newest first: their QA feedback history."""
    return (
        QAReview.objects.filter(
            institution_id=institution_id,
            operator_id=user_id,
            read=QAReview.FIRST_READ,
            state=QAReview.State.DONE,
        )
        .select_related("exam_type", "scored_by")
        .order_by("-scored_at", "-id")
    )
