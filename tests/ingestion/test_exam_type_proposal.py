"""The exam type proposed from the application (preset) Clarius sends in the exam data."""

import uuid

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.clarius.api.documents import ExamData
from integrations.clarius.ingestion.ingest import application_name, ingest_exam_data
from integrations.clarius.models import ClariusLink, NotificationReceipt
from portal.exams.models import Exam
from portal.text import clean_text
from portal.worksheets.models import ExamType
from portal.worksheets.proposing import matching_type, propose_exam_type
from tests.clarius.flow import deliver, link_confirmed, run_due_work
from tests.factories import make_exam


@pytest.fixture
def media_root(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    return settings.PORTAL_MEDIA_ROOT


@pytest.fixture
def types(northside, southside):
    """Exam types of their own (the defaults' applications may change)."""

    def make(institution, code, applications, *, active=True):
        return ExamType.objects.create(
            institution=institution,
            code=code,
            name=code.title(),
            clarius_applications=applications,
            is_active=active,
        )

    return {
        "gall": make(northside, "gall", ["Gallbladder Test", "Biliary Test"]),
        "heart_a": make(northside, "heart-a", ["Heart Test"]),
        "heart_b": make(northside, "heart-b", ["heart test"]),
        "old": make(northside, "old", ["Retired Test"], active=False),
        "new": make(northside, "new", ["Retired Test", "Renamed Test"]),
        "gone": make(northside, "gone", ["Only Retired Test"], active=False),
        "south": make(southside, "south-gall", ["Southern Test"]),
    }


@pytest.fixture
def exam(northside, bob, media_root):
    return make_exam(northside, bob, captures=0)


def fresh(exam):
    return Exam.objects.get(pk=exam.pk)


def test_exactly_one_type_claiming_the_application_is_proposed(exam, types):
    assert propose_exam_type(exam, "gallbladder test") == ["clarius_application", "exam_type"]
    exam = fresh(exam)
    assert exam.clarius_application == "gallbladder test"
    assert exam.exam_type == types["gall"] and exam.exam_type_confirmed is False
    propose_exam_type(exam, "  BILIARY TEST ")
    assert fresh(exam).exam_type == types["gall"]


@pytest.mark.parametrize("name", ["Heart Test", "Unknown Preset", "Southern Test"])
def test_an_ambiguous_unknown_or_foreign_application_proposes_nothing(exam, types, name):
    propose_exam_type(exam, name)
    exam = fresh(exam)
    assert exam.clarius_application == name
    assert exam.exam_type is None


def test_a_later_application_replaces_a_proposal_but_never_a_confirmed_type(exam, types):
    propose_exam_type(exam, "Gallbladder Test")
    propose_exam_type(exam, "Unknown Preset")
    assert fresh(exam).exam_type is None  # the stale proposal does not stay
    exam.exam_type, exam.exam_type_confirmed = types["heart_a"], True
    exam.save()
    propose_exam_type(exam, "Gallbladder Test")
    exam = fresh(exam)
    assert (exam.exam_type, exam.exam_type_confirmed) == (types["heart_a"], True)
    assert exam.clarius_application == "Gallbladder Test"


def test_a_retired_type_is_never_proposed(exam, types):
    assert matching_type(exam.institution, "Retired Test") == types["new"]
    assert matching_type(exam.institution, "Only Retired Test") is None


@pytest.mark.parametrize("value", [None, "", "   ", 42, 4.5, True, ["Gallbladder Test"], {}])
def test_anything_but_text_is_not_an_application(exam, types, value):
    assert propose_exam_type(exam, value) == []
    exam = fresh(exam)
    assert (exam.clarius_application, exam.exam_type) == ("", None)


def test_hostile_text_is_cleaned_and_cut(exam, types):
    propose_exam_type(exam, "Gallbladder\x00 Test\u202e")
    exam = fresh(exam)
    assert exam.clarius_application == "Gallbladder Test"
    assert exam.exam_type == types["gall"]
    propose_exam_type(exam, "x" * 10_000)
    exam = fresh(exam)
    assert len(exam.clarius_application) == 200 and exam.exam_type is None


@pytest.mark.parametrize(
    "document, expected",
    [
        ({"application": "Lung"}, "Lung"),
        ({"preset": "Lung"}, "Lung"),
        ({"exam_application": {"name": "Lung", "uuid": "x"}}, "Lung"),
        ({"applicationName": "Lung"}, "Lung"),
        ({"application": 7, "preset": "Lung"}, "Lung"),
        ({"application": ["Lung"], "preset": {"name": 3}}, None),
        ({"application": "", "applicationName": None}, None),
        ({}, None),
    ],
)
def test_the_application_is_read_from_the_usual_keys(document, expected):
    data = ExamData.from_json({"request_uuid": "r", "captures": [], **document})
    assert application_name(data) == expected


def receipt_for(link, exam_uuid, submitted_at):
    request_uuid = uuid.uuid4()
    return NotificationReceipt.objects.create(
        request_uuid=request_uuid,
        exam_uuid=exam_uuid,
        customer_id=link.token,
        download_url=f"https://cloud.clarius.com/api/public/v0/{request_uuid}/",
        submitted_at=submitted_at,
        state=NotificationReceipt.State.PENDING,
        link=link,
    )


@pytest.mark.parametrize(
    "application",
    ["Gall\x00bladder Test", "y" * 10_000, 12345, ["Gallbladder Test"], {"name": None}],
)
def test_hostile_applications_in_the_exam_data_are_stored_cleaned_or_ignored(
    northside, bob, types, application
):
    link = ClariusLink.objects.create(
        token="t" * 43, user=bob, institution=northside, state="confirmed"
    )
    exam_uuid = uuid.uuid4()
    document = {"request_uuid": "r", "captures": [], "application": application}
    ingest_exam_data(receipt_for(link, exam_uuid, timezone.now()), ExamData.from_json(document))
    exam = Exam.objects.get(exam_uuid=exam_uuid)
    if application == "Gall\x00bladder Test":
        assert (exam.clarius_application, exam.exam_type) == ("Gallbladder Test", types["gall"])
    elif isinstance(application, str):
        assert len(exam.clarius_application) == 200 and exam.exam_type is None
    else:
        assert (exam.clarius_application, exam.exam_type) == ("", None)


def test_only_the_latest_submission_proposes(northside, bob, types):
    link = ClariusLink.objects.create(
        token="t" * 43, user=bob, institution=northside, state="confirmed"
    )
    exam_uuid, now = uuid.uuid4(), timezone.now()
    latest = {"request_uuid": "r2", "captures": [], "application": "Gallbladder Test"}
    ingest_exam_data(receipt_for(link, exam_uuid, now), ExamData.from_json(latest))
    older = {"request_uuid": "r1", "captures": [], "application": "Heart Test"}
    ingest_exam_data(
        receipt_for(link, exam_uuid, now - timezone.timedelta(hours=1)), ExamData.from_json(older)
    )
    exam = Exam.objects.get(exam_uuid=exam_uuid)
    assert (exam.clarius_application, exam.exam_type) == ("Gallbladder Test", types["gall"])


@pytest.fixture
def clinician(clarius_settings, clarius_sandbox, bob, northside, media_root):
    sandbox_user = clarius_sandbox.add_user("Bob Reviewer", "bob@example.org")
    link_confirmed(sandbox_user, bob, northside)
    return sandbox_user


def test_the_sandbox_names_the_application_when_told_and_the_type_is_proposed(
    clarius_sandbox, clinician, types
):
    clarius_sandbox.state.send_application = True
    request = clarius_sandbox.upload_exam(
        clinician, captures=1, videos=0, notify=False, application="Gallbladder Test"
    )
    deliver(request)
    run_due_work()
    exam = Exam.objects.get()
    assert exam.clarius_application == "Gallbladder Test"
    assert exam.exam_type == types["gall"] and not exam.exam_type_confirmed
    assert exam.submissions.get().raw_document["application"] == "Gallbladder Test"


def test_by_default_the_sandbox_sends_no_application(clarius_sandbox, clinician, types):
    request = clarius_sandbox.upload_exam(
        clinician, captures=1, videos=0, notify=False, application="Gallbladder Test"
    )
    deliver(request)
    run_due_work()
    exam = Exam.objects.get()
    assert (exam.clarius_application, exam.exam_type) == ("", None)
    assert "application" not in exam.submissions.get().raw_document


characters = st.one_of(
    st.characters(), st.sampled_from("\u202e\u2066\x00\n\r\t\x1b\x85\ufeff\ud800<&\"'")
)
text = st.text(alphabet=characters, max_size=300)
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=8,
)


@pytest.mark.hostile
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    document=st.dictionaries(
        st.sampled_from(["application", "preset", "exam_application", "applicationName", "x"]),
        st.one_of(json_value, st.builds(lambda name: {"name": name}, json_value)),
    )
)
def test_whatever_the_exam_data_names_as_application_is_stored_clean_or_ignored(
    exam, types, document
):
    data = ExamData.from_json({"request_uuid": "r", "captures": [], **document})
    propose_exam_type(exam, application_name(data))
    stored = fresh(exam).clarius_application
    assert len(stored) <= 200
    assert stored == clean_text(stored)
