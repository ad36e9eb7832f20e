"""Privileges gate the workflow: who may sign an exam type's report as final.

An operator credentialed for an exam type (``Credential``: by count or by grant) signs
its reports as final. One not yet credentialed, documenting their own exam, signs as
preliminary: the exam waits for an attending's attestation (``portal.reports.review``),
the report and every delivery say *preliminary*, and every such exam is QA-reviewed.
Reaching the threshold writes the credential, and the gate lifts from the next exam on.
Trainees are always preliminary, credentialed or not: that is their institution's rule.
"""

from __future__ import annotations

from portal.qa.models import Credential
from portal.qa.program import settings_for
from portal.tenants.models import Membership


def is_credentialed(user_id, institution_id, exam_type_id) -> bool:
    if exam_type_id is None or user_id is None:
        return False
    return Credential.objects.filter(
        institution_id=institution_id, user_id=user_id, exam_type_id=exam_type_id
    ).exists()


def is_trainee(user_id, institution_id) -> bool:
    return Membership.objects.filter(
        institution_id=institution_id, user_id=user_id, is_trainee=True
    ).exists()


def gated(user_id, exam) -> bool:
    """Whether ``user_id`` documenting ``exam`` is an operator without privileges for its
    exam type (and the institution gates on privileges)."""
    if user_id is None or exam.operator_id != user_id or exam.exam_type_id is None:
        return False
    program = settings_for(exam.institution_id)
    if not (program.is_active and program.privileges_gate):
        return False
    return not is_credentialed(user_id, exam.institution_id, exam.exam_type_id)


def needs_attestation(user_id, exam) -> bool:
    """A signature by ``user_id`` on ``exam`` is preliminary: a trainee's, or an operator's
    without privileges for the exam type."""
    return is_trainee(user_id, exam.institution_id) or gated(user_id, exam)
