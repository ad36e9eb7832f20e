"""An institution's QA program settings, made with their defaults on first use."""

from __future__ import annotations

from portal.qa.models import ExamTypeQA, QASettings, default_required


def settings_for(institution_id) -> QASettings:
    found = QASettings.objects.filter(institution_id=institution_id).first()
    if found is not None:
        return found
    settings, _ = QASettings.objects.get_or_create(institution_id=institution_id)
    return settings


def exam_type_qa(exam_type) -> ExamTypeQA:
    found = ExamTypeQA.objects.filter(exam_type=exam_type).first()
    if found is not None:
        return found
    row, _ = ExamTypeQA.objects.get_or_create(
        exam_type=exam_type,
        defaults={
            "institution_id": exam_type.institution_id,
            "required_passed": default_required(exam_type.code),
        },
    )
    return row


def required_by_type(institution_id, exam_types) -> dict[int, int]:
    """Exam type id → QA-passed exams required, for many types in one query."""
    stored = dict(
        ExamTypeQA.objects.filter(
            institution_id=institution_id, exam_type__in=[t.pk for t in exam_types]
        ).values_list("exam_type_id", "required_passed")
    )
    return {t.pk: stored.get(t.pk, default_required(t.code)) for t in exam_types}
