"""The admin's exam and patient lists show outside names isolated, without controls."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from portal.exams.models import Patient
from tests.factories import make_exam
from tests.many_captures import has_bidi


@pytest.fixture
def superuser(db):
    return get_user_model().objects.create_superuser(email="root@example.org", password="x")


@pytest.fixture
def hostile(trio, northside, settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    bob = trio[1]
    bob.full_name = "\u202eBob\u2066 Reviewer"
    bob.save()
    exam = make_exam(northside, bob, captures=0)
    Patient.objects.filter(exam=exam).update(first_name="\u202eNora", identifier="\u2066MRN-1")
    return exam


def test_the_patient_list_isolates_names_and_identifiers(client, superuser, hostile):
    client.force_login(superuser)
    html = client.get(reverse("admin:exams_patient_changelist")).content.decode()
    assert "<bdi>Nora Example</bdi>" in html
    assert "<bdi>MRN-1</bdi>" in html
    assert not has_bidi(html.split("<tbody>")[1])


def test_the_exam_list_isolates_the_operator(client, superuser, hostile):
    client.force_login(superuser)
    html = client.get(reverse("admin:exams_exam_changelist")).content.decode()
    assert "<bdi>Bob Reviewer</bdi>" in html
    assert not has_bidi(html.split("<tbody>")[1])


def test_durations_read_as_people_say_them():
    from portal.exams.templatetags.display import duration_words

    assert duration_words("PT15M") == "15 minutes"
    assert duration_words("PT1H1M") == "1 hour and 1 minute"
    assert duration_words("PT2H") == "2 hours"
    assert duration_words("PT10S") == "1 minute"
    assert duration_words("nonsense") == "" and duration_words(None) == ""
