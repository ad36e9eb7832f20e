"""The exam type an exam is proposed as, from the application (preset) it was scanned with.

An integration that learns the application name (Clarius may send it in the exam data)
calls ``propose_exam_type``. The name is kept on the exam as sent (cleaned), and while no
reviewer has confirmed a type the exam is proposed as the institution's one exam type in
use that lists the name among its applications (compared without case). Two types
claiming one name, or none, propose nothing: the reviewer chooses.
"""

from __future__ import annotations

from typing import Any

from portal.exams.models import Exam
from portal.text import clean_text
from portal.worksheets.models import ExamType

APPLICATION_LENGTH = Exam._meta.get_field("clarius_application").max_length


def application_key(name: Any) -> str:
    """How application names are compared: cleaned, trimmed, without case."""
    if not isinstance(name, str):
        return ""
    return clean_text(name).strip().casefold()


def matching_type(institution, application_name: Any) -> ExamType | None:
    """The institution's one exam type in use that claims the name, else ``None``."""
    key = application_key(application_name)
    if not key:
        return None
    matches = [
        exam_type
        for exam_type in ExamType.objects.for_institution(institution).filter(is_active=True)
        if isinstance(exam_type.clarius_applications, list)
        and any(application_key(name) == key for name in exam_type.clarius_applications)
    ]
    return matches[0] if len(matches) == 1 else None


def propose_exam_type(exam: Exam, application_name: Any, *, save: bool = True) -> list[str]:
    """Keep ``application_name`` on ``exam`` and propose its exam type unless a reviewer
    confirmed one; the fields changed (saved unless ``save`` is false).

    Anything but text (a number, a list, nothing) is not an application name and changes
    nothing. Call it with the exam locked when submissions may race (ingestion does).
    """
    if not isinstance(application_name, str):
        return []
    name = clean_text(application_name, max_length=APPLICATION_LENGTH).strip()
    if not name:
        return []
    changed = []
    if exam.clarius_application != name:
        exam.clarius_application = name
        changed.append("clarius_application")
    if not exam.exam_type_confirmed:
        proposed = matching_type(exam.institution_id, name)
        if exam.exam_type_id != (proposed.pk if proposed else None):
            exam.exam_type = proposed
            changed.append("exam_type")
    if save and changed and exam.pk:
        exam.save(update_fields=[*changed, "updated_at"])
    return changed
