"""People, exams and QA reviews for the QA queue's tests (tests/qa/test_queue*.py).

Northside runs its QA program (``is_active``). Besides the trio (alice: Northside's
administrator; bob: a reviewer at Northside; charlie: Southside's administrator):
- quinn and rita: reviewers at Northside who are QA reviewers;
- lena: a reviewer at Northside who is a QA lead;
- cleo: a clinician at Northside;
- sid: a reviewer and QA reviewer at Southside.
"""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from portal.qa.models import QAReview
from portal.qa.program import settings_for
from portal.reports.forms import FindingsForm
from portal.reports.review import fill_worksheet, findings_of, sign_findings
from portal.tenants.models import Membership
from portal.worksheets.engine import Worksheet
from portal.worksheets.models import ExamType
from tests.conftest import make_user
from tests.factories import make_exam

FINDINGS = {
    "exam_type": "lung",
    "indication": "Shortness of breath.",
    "findings": "Lung sliding present bilaterally.",
    "impression": "No pneumothorax.",
    "image_quality": "4",
    "clinician_feedback": "",
}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    return settings.PORTAL_MEDIA_ROOT


def member(email, name, institution, role=Membership.Role.REVIEWER, **flags):
    user = make_user(email, name)
    Membership.objects.create(user=user, institution=institution, role=role, **flags)
    return user


def activate(institution, **fields):
    qa = settings_for(institution.pk)
    qa.is_active = True
    for name, value in fields.items():
        setattr(qa, name, value)
    qa.save()
    return qa


@pytest.fixture
def people(trio, northside, southside):
    alice, bob, charlie = trio
    activate(northside)
    activate(southside)
    return {
        "alice": alice,
        "bob": bob,
        "charlie": charlie,
        "quinn": member("quinn@example.org", "Quinn QA", northside, is_qa_reviewer=True),
        "rita": member("rita@example.org", "Rita QA", northside, is_qa_reviewer=True),
        "lena": member("lena@example.org", "Lena Lead", northside, is_qa_lead=True),
        "cleo": member("cleo@example.org", "Cleo Clinician", northside, Membership.Role.CLINICIAN),
        "sid": member("sid@example.org", "Sid South", southside, is_qa_reviewer=True),
    }


def lung(institution):
    return ExamType.objects.get(institution=institution, code="lung")


def sign(exam, user, **fields):
    """Sign ``exam``'s lung worksheet (every section normal, every view obtained) as
    ``user``, through the portal's signing (QA selection runs there)."""
    form = FindingsForm({**FINDINGS, **fields}, instance=findings_of(exam))
    assert form.is_valid(), form.errors
    findings = form.instance
    exam_type = lung(exam.institution)
    sheet = Worksheet(exam_type.current_template().definition)
    fill_worksheet(
        findings,
        exam_type=exam_type,
        answers=sheet.normal(),
        views={code: "obtained" for code in sheet.views},
        key_images=findings.key_images,
    )
    sign_findings(findings, user)
    exam.refresh_from_db()
    return exam


def exam_uuid_where(predicate, limit=5000):
    """A UUID for which ``predicate(uuid)`` holds (the hash draws are fixed per UUID)."""
    for i in range(limit):
        candidate = uuid.UUID(int=i + 1)
        if predicate(candidate):
            return candidate
    raise AssertionError("no UUID found")


def make_review(exam, *, read=1, reason=QAReview.Reason.TRAINEE, assignee=None, due_in=72, **f):
    now = timezone.now()
    return QAReview.objects.create(
        institution=exam.institution,
        exam=exam,
        read=read,
        reason=reason,
        operator=exam.operator,
        exam_type=f.pop("exam_type", lung(exam.institution)),
        assignee=assignee,
        assigned_at=now if assignee else None,
        due_at=now + timedelta(hours=due_in),
        **f,
    )


@pytest.fixture
def reviews(people, northside, southside):
    """Pending reviews: two of bob's exams at Northside (one assigned to quinn, one
    unassigned) and one of charlie's at Southside (assigned to sid)."""
    bob_exam = make_exam(northside, people["bob"], patient_name="Nora North", captures=2)
    bob_exam2 = make_exam(northside, people["bob"], patient_name="Ned North")
    south = make_exam(southside, people["charlie"], patient_name="Sam South")
    for exam in (bob_exam, bob_exam2, south):
        exam.exam_type = lung(exam.institution)
        exam.save(update_fields=["exam_type"])
    return {
        "quinn": make_review(bob_exam, assignee=people["quinn"]),
        "open": make_review(bob_exam2, due_in=-5),
        "south": make_review(south, assignee=people["sid"]),
    }


@pytest.fixture
def login(client, people):
    def log_in(name):
        client.force_login(people[name])
        return client

    return log_in
