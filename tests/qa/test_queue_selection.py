# ruff: noqa: F811 (the fixtures imported from queue_fixtures are arguments here)
"""QA selection end to end: exams signed through the portal's signing land in the QA
queue by the institution's rules (portal/qa/selection.py), and are scored by the one
pass rule (portal/qa/scoring.py)."""

from collections import Counter

import pytest
from django.utils import timezone

from portal.qa import rubric
from portal.qa.models import Credential, QAReview
from portal.qa.program import settings_for
from portal.qa.scoring import QARefused, score
from portal.qa.selection import drawn
from portal.tenants.models import Membership
from tests.factories import make_exam
from tests.qa.queue_fixtures import (  # noqa: F401
    activate,
    exam_uuid_where,
    lung,
    make_review,
    media_root,
    member,
    people,
    sign,
)

pytestmark = pytest.mark.django_db


def exam_with_uuid(institution, operator, uuid):
    exam = make_exam(institution, operator)
    exam.exam_uuid = uuid
    exam.save(update_fields=["exam_uuid"])
    return exam


def credential(user, institution):
    Credential.objects.create(
        institution=institution,
        user=user,
        exam_type=lung(institution),
        basis=Credential.Basis.GRANT,
        since=timezone.now(),
    )


def no_double_reads(institution):
    activate(institution, double_read_percent=0)


def test_a_trainees_exam_is_selected(people, northside):
    no_double_reads(northside)
    tina = member("tina@example.org", "Tina Trainee", northside, is_trainee=True)
    exam = sign(make_exam(northside, tina), people["alice"])
    review = QAReview.objects.get(exam=exam)
    assert review.reason == QAReview.Reason.TRAINEE
    assert review.operator == tina and review.exam_type == lung(northside)
    assert review.assignee in (people["quinn"], people["rita"])
    hours = settings_for(northside.pk).turnaround_hours
    assert abs((review.due_at - review.created_at).total_seconds() - hours * 3600) < 60


def test_an_operator_not_credentialed_is_selected(people, northside):
    no_double_reads(northside)
    exam = sign(make_exam(northside, people["bob"]), people["alice"])
    assert QAReview.objects.get(exam=exam).reason == QAReview.Reason.IN_TRAINING


def test_a_credentialed_operators_exams_are_sampled_by_the_hash_draw(people, northside):
    no_double_reads(northside)
    credential(people["bob"], northside)
    percent = settings_for(northside.pk).sample_percent
    inside = exam_uuid_where(lambda u: drawn(u, "sample", percent))
    outside = exam_uuid_where(lambda u: not drawn(u, "sample", percent))
    sampled = sign(exam_with_uuid(northside, people["bob"], inside), people["alice"])
    skipped = sign(exam_with_uuid(northside, people["bob"], outside), people["alice"])
    assert QAReview.objects.get(exam=sampled).reason == QAReview.Reason.SAMPLED
    assert not QAReview.objects.filter(exam=skipped).exists()


def test_nothing_is_selected_while_the_program_is_off(people, northside):
    qa = settings_for(northside.pk)
    qa.is_active = False
    qa.save()
    tina = member("tina@example.org", "Tina Trainee", northside, is_trainee=True)
    exam = sign(make_exam(northside, tina), people["alice"])
    assert not QAReview.objects.filter(exam=exam).exists()


def test_a_double_read_by_another_reviewer_per_double_read_percent(people, northside):
    activate(northside, double_read_percent=5)
    inside = exam_uuid_where(lambda u: drawn(u, "double", 5))
    outside = exam_uuid_where(lambda u: not drawn(u, "double", 5))
    doubled = sign(exam_with_uuid(northside, people["bob"], inside), people["alice"])
    single = sign(exam_with_uuid(northside, people["bob"], outside), people["alice"])
    first, second = QAReview.objects.filter(exam=doubled).order_by("read")
    assert (first.read, second.read) == (1, 2)
    assert second.reason == QAReview.Reason.DOUBLE_READ
    assert first.assignee and second.assignee and first.assignee != second.assignee
    assert QAReview.objects.filter(exam=single).count() == 1


def test_round_robin_spreads_evenly_and_skips_the_operator_and_the_signer(people, northside):
    no_double_reads(northside)
    ollie = member("ollie@example.org", "Ollie QA", northside, is_qa_reviewer=True)
    for _ in range(6):
        sign(make_exam(northside, people["bob"]), people["alice"])
    counts = Counter(QAReview.objects.values_list("assignee__email", flat=True))
    assert counts == {"quinn@example.org": 2, "rita@example.org": 2, "ollie@example.org": 2}
    # Never the operator nor the signer: quinn operates, rita signs, ollie gets it.
    for _ in range(3):
        exam = sign(make_exam(northside, people["quinn"]), people["rita"])
        assert QAReview.objects.get(exam=exam).assignee == ollie


def test_manual_assignment_leaves_reviews_unassigned(people, northside):
    activate(northside, assignment="manual", double_read_percent=0)
    exam = sign(make_exam(northside, people["bob"]), people["alice"])
    assert QAReview.objects.get(exam=exam).assignee is None


def test_a_non_reviewing_qa_reviewer_is_never_assigned(people, northside):
    no_double_reads(northside)
    Membership.objects.filter(user__in=[people["quinn"], people["rita"]]).update(
        role=Membership.Role.CLINICIAN
    )
    exam = sign(make_exam(northside, people["bob"]), people["alice"])
    assert QAReview.objects.get(exam=exam).assignee is None


@pytest.mark.parametrize(
    ("quality", "interpretation", "passed"),
    [
        (3, rubric.AGREE, True),
        (5, rubric.AGREE, True),
        (2, rubric.AGREE, False),
        (5, rubric.FALSE_POSITIVE, False),
        (4, rubric.FALSE_NEGATIVE, False),
        (4, rubric.OTHER, False),
    ],
)
def test_the_pass_rule(people, northside, quality, interpretation, passed):
    review = make_review(make_exam(northside, people["bob"]))
    scored = score(
        review,
        people["quinn"],
        image_quality=quality,
        interpretation=interpretation,
        interpretation_note="" if interpretation == rubric.AGREE else "Missed B-lines.",
    )
    assert scored.passed is passed and scored.is_done


def test_scoring_rules(people, northside):
    exam = make_exam(northside, people["bob"])
    review = make_review(exam)
    with pytest.raises(QARefused) as refused:
        score(review, people["quinn"], image_quality=4, interpretation=rubric.OTHER)
    assert refused.value.field == "interpretation_note"
    with pytest.raises(QARefused):
        score(review, people["bob"], image_quality=4, interpretation=rubric.AGREE)  # not QA
    own = make_review(make_exam(northside, people["quinn"]))
    with pytest.raises(QARefused, match="own exam"):
        score(own, people["quinn"], image_quality=4, interpretation=rubric.AGREE)
    score(review, people["quinn"], image_quality=4, interpretation=rubric.AGREE)
    with pytest.raises(QARefused) as twice:
        score(review, people["rita"], image_quality=4, interpretation=rubric.AGREE)
    assert twice.value.conflict
    second = make_review(exam, read=2, reason=QAReview.Reason.DOUBLE_READ)
    with pytest.raises(QARefused, match="blind"):
        score(second, people["quinn"], image_quality=4, interpretation=rubric.AGREE)
    assert score(second, people["rita"], image_quality=2, interpretation=rubric.AGREE).is_done
