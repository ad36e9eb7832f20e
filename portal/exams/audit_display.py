"""How the audit log reads: the exam and patient an event concerns, and kinds of action.

One rule for the page, its CSV export and the API's export alike. An event names its
object by type and id (``capture 23``); an auditor asks *whose* data was opened, so each
event concerning an exam (the exam itself, one of its captures or reports, an export
of it) is described as the exam's day and the patient's identifier::

    Exam of 12 Mar 2026 · patient ID 123456

The patient's *identifier* (the MRN Clarius sent), else the accession number, never the
name: a privacy officer can look the patient up, and the log repeats no more patient
data than that. The lookup is a fixed number of queries per batch of events, made when
the log is read (events written before this rule are described the same way).
"""

from __future__ import annotations

from dataclasses import dataclass

from portal.exams.models import AuditEvent, Capture, Exam
from portal.tenants.timezones import local
from portal.text import clean_text

Action = AuditEvent.Action

# Kinds of action, for the audit page's filter and the grouped list of actions.
KINDS: dict[str, tuple[str, list[str]]] = {
    "patient_data": (
        "Opening patient data",
        [
            Action.VIEW_EXAM,
            Action.OPEN_MEDIA,
            Action.LIST_EXAMS,
            Action.RESEARCH_RAW_DATA,
        ],
    ),
    "review": (
        "Review and signing",
        [
            Action.ASSIGN_EXAM,
            Action.SIGN_FINDINGS,
            Action.ATTEST_FINDINGS,
            Action.ADD_ADDENDUM,
            Action.EDIT_EXAM_TYPE,
        ],
    ),
    "exports": (
        "Downloads and exports",
        [
            Action.DOWNLOAD_REPORT,
            Action.RAW_DATA_DOWNLOAD,
            Action.DICOM_EXPORT,
            Action.DICOM_DOWNLOAD,
            Action.EXPORT_AUDIT_LOG,
            Action.EXPORT_CREDENTIALS,
            Action.EXPORT_INSTITUTION,
        ],
    ),
    "retention": (
        "Retention",
        [Action.PURGE_MEDIA],
    ),
    "qa": (
        "Quality review and credentialing",
        [
            Action.FLAG_QA,
            Action.ASSIGN_QA,
            Action.SCORE_QA,
            Action.RECORD_OUTCOME,
            Action.GRANT_CREDENTIAL,
            Action.REVOKE_CREDENTIAL,
            Action.CHANGE_QA_SETTINGS,
        ],
    ),
    "sessions": (
        "Signing in and out",
        [
            Action.LOGIN,
            Action.LOGIN_FAILED,
            Action.LOGOUT,
            Action.IDLE_LOGOUT,
            Action.SESSION_MAX_AGE,
            Action.END_SESSION,
            Action.SIGN_OUT_EVERYWHERE,
            Action.MFA_VERIFIED,
            Action.MFA_FAILED,
            Action.MFA_RECOVERY_USED,
            Action.MFA_ADDED,
            Action.MFA_REMOVED,
            Action.MFA_RECOVERY_CODES,
        ],
    ),
    "administration": (
        "Members, keys and settings",
        [
            Action.INVITE_MEMBER,
            Action.CANCEL_INVITATION,
            Action.ACCEPT_INVITATION,
            Action.CHANGE_ROLE,
            Action.REMOVE_MEMBER,
            Action.CREATE_API_KEY,
            Action.REVOKE_API_KEY,
            Action.API_KEY_USED,
            Action.CHANGE_SETTINGS,
            Action.ADD_DESTINATION,
            Action.CHANGE_DESTINATION,
            Action.REMOVE_DESTINATION,
            Action.RESEND_DELIVERIES,
        ],
    ),
}


def kind_choices() -> list[tuple[str, str]]:
    return [(key, label) for key, (label, _) in KINDS.items()]


def grouped_action_choices() -> list:
    """The actions in words, grouped by kind (``<optgroup>`` in the filter)."""
    labels = dict(Action.choices)
    return [(label, [(a, labels[a]) for a in actions]) for label, actions in KINDS.values()]


def actions_of_kind(kind: str) -> list[str]:
    return [str(action) for action in KINDS[kind][1]]


# Objects other than an exam's, named in words.
OBJECT_WORDS = {
    "exam": "Exam",
    "capture": "Capture",
    "report": "Report",
    "membership": "Membership",
    "invitation": "Invitation",
    "institution": "Institution",
    "apikey": "API key",
    "examtype": "Exam type",
    "user": "Account",
    "rawdataexport": "Raw data export",
    "dicomexport": "DICOM export",
    "destination": "Destination",
}


@dataclass(frozen=True)
class Subject:
    """What an event concerns, in words: ``exam`` (the exam's id, for a link) and
    ``exam_label`` when it concerns an exam, ``part`` for the object within or instead
    (``Capture 23``)."""

    exam_id: int | None = None
    exam_label: str = ""
    patient_id: str = ""
    part: str = ""

    @property
    def text(self) -> str:
        return " · ".join(p for p in [self.part, self.exam_label] if p)


def patient_identifier(patient) -> str:
    """The patient's identifier as the log shows it: ``patient ID 123`` or
    ``accession 456``, else ``no patient ID``."""
    if patient is not None:
        if patient.identifier.strip():
            return f"patient ID {clean_text(patient.identifier, max_length=64)}"
        accession = (patient.extra or {}).get("accession_number")
        if isinstance(accession, str | int) and str(accession).strip():
            return f"accession {clean_text(accession, max_length=64)}"
    return "no patient ID"


def exam_label(exam, zone=None) -> str:
    day = local(exam.first_submitted_at, zone)
    patient = exam.patient if _has_patient(exam) else None
    return f"Exam of {day:%-d %b %Y} · {patient_identifier(patient)}"


def _int(value) -> int | None:
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


def describe(events, zone=None) -> list:
    """Set ``event.subject`` (a ``Subject``) on each event; returns the events.

    Three queries whatever the number: the captures and reports named, then their exams
    with patients. An exam is only ever one of the event's own institution.
    """
    from portal.reports.models import Report

    events = list(events)
    wanted = {"capture": set(), "report": set()}
    for event in events:
        if event.object_type in wanted and (pk := _int(event.object_id)) is not None:
            wanted[event.object_type].add(pk)
    parents = {
        ("capture", pk): exam_id
        for pk, exam_id in Capture.objects.filter(pk__in=wanted["capture"]).values_list(
            "pk", "exam_id"
        )
    }
    parents.update(
        {
            ("report", pk): exam_id
            for pk, exam_id in Report.objects.filter(pk__in=wanted["report"]).values_list(
                "pk", "exam_id"
            )
        }
    )

    def exam_id_of(event) -> int | None:
        if event.object_type == "exam":
            return _int(event.object_id)
        pk = _int(event.object_id)
        found = parents.get((event.object_type, pk))
        if found is None and isinstance(event.detail, dict):
            found = _int(event.detail.get("exam", ""))  # exports name their exam
        return found

    exam_ids = {event: exam_id_of(event) for event in events}
    exams = Exam.objects.filter(pk__in={pk for pk in exam_ids.values() if pk}).select_related(
        "patient"
    )
    exams = {exam.pk: exam for exam in exams}
    for event in events:
        exam = exams.get(exam_ids[event])
        if exam is not None and exam.institution_id != event.institution_id:
            exam = None
        words = OBJECT_WORDS.get(event.object_type) or clean_text(event.object_type).capitalize()
        part = f"{words} {clean_text(event.object_id, max_length=14)}"
        if exam is None:
            event.subject = Subject(part=part)
        else:
            patient = exam.patient if _has_patient(exam) else None
            if event.object_type == "exam":
                part = ""
            event.subject = Subject(
                exam_id=exam.pk,
                exam_label=exam_label(exam, zone),
                patient_id=patient_identifier(patient),
                part=part,
            )
    return events


def _has_patient(exam) -> bool:
    try:
        exam.patient  # noqa: B018 - the reverse one-to-one raises when there is none
    except Exam.patient.RelatedObjectDoesNotExist:
        return False
    return True


def described(events, zone=None, chunk=2000):
    """``describe`` over an iterator of events, a chunk at a time (the streamed exports)."""
    batch = []
    for event in events:
        batch.append(event)
        if len(batch) >= chunk:
            yield from describe(batch, zone)
            batch = []
    if batch:
        yield from describe(batch, zone)
