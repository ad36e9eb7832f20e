"""What members are told about. One place for each kind's name, audience and wording.

A kind's in-portal notification is always written; its email follows the member's
preference (``NotificationPreference``). The wording names no patient: the institution
may allow the patient's name and identifier in emails (``Institution.email_patient_identifiers``).
"""

from __future__ import annotations

FEEDBACK_SIGNED = "feedback_signed"  # a clinician: feedback on their exam was signed
NEW_EXAM = "new_exam"  # a reviewer: a new exam is ready (each)
NEW_EXAM_DIGEST = "new_exam_digest"  # a reviewer: the day's new exams (daily digest)
EXAMS_UNLINKED = "exams_unlinked"  # an admin: exams wait for a member's Clarius link
INGESTION_FAILING = "ingestion_failing"  # an admin: exams have failed to arrive for a day
QA_FEEDBACK = "qa_feedback"  # a clinician: their exam's QA review was scored
QA_ASSIGNED = "qa_assigned"  # a QA reviewer: a QA review was assigned to them
QA_OVERDUE = "qa_overdue"  # a QA lead or admin: the day's overdue QA reviews (digest)
DESTINATION_FAILING = "destination_failing"  # an admin: a PACS/EHR destination failing a day

CHOICES = [
    (FEEDBACK_SIGNED, "Feedback signed on your exam"),
    (NEW_EXAM, "New exam to review"),
    (NEW_EXAM_DIGEST, "New exams of the day"),
    (EXAMS_UNLINKED, "Exams waiting for a Clarius link"),
    (INGESTION_FAILING, "Exams failing to arrive"),
    (QA_FEEDBACK, "Quality review results of your exams"),
    (QA_ASSIGNED, "Quality reviews assigned to you"),
    (QA_OVERDUE, "Overdue quality reviews"),
    (DESTINATION_FAILING, "A PACS or EHR destination failing"),
]
LABELS = dict(CHOICES)

# The preference that governs a kind's email (and, for new exams, the inbox too).
PREFERENCE_OF = {
    FEEDBACK_SIGNED: FEEDBACK_SIGNED,
    NEW_EXAM: NEW_EXAM,
    NEW_EXAM_DIGEST: NEW_EXAM,
    EXAMS_UNLINKED: EXAMS_UNLINKED,
    INGESTION_FAILING: INGESTION_FAILING,
    QA_FEEDBACK: QA_FEEDBACK,
    QA_ASSIGNED: QA_ASSIGNED,
    QA_OVERDUE: QA_OVERDUE,
    DESTINATION_FAILING: DESTINATION_FAILING,
}
# The kinds an unsubscribe link can name.
PREFERENCES = (
    FEEDBACK_SIGNED,
    NEW_EXAM,
    EXAMS_UNLINKED,
    INGESTION_FAILING,
    QA_FEEDBACK,
    QA_ASSIGNED,
    QA_OVERDUE,
    DESTINATION_FAILING,
)
