from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from portal.demo import outbound as hospital
from portal.demo.seed import DEMO_USERS
from portal.outbound.models import Destination
from portal.tenants.models import Institution, Membership


def seed():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_it_seeds_an_institution_with_an_admin_a_reviewer_and_a_clinician(db):
    output = seed()
    institution = Institution.objects.get()
    roles = dict(Membership.objects.values_list("user__email", "role"))
    assert roles == {
        "admin@demo.clinic": "admin",
        "reviewer@demo.clinic": "reviewer",
        "clinician@demo.clinic": "clinician",
        "trainee@demo.clinic": "reviewer",
    }
    trainees = Membership.objects.filter(is_trainee=True).values_list("user__email", flat=True)
    assert list(trainees) == ["trainee@demo.clinic"]
    assert get_user_model().objects.get(email="admin@demo.clinic").credentials == "MD, RDMS"
    # The demo clinic documents exams with the default exam types.
    from portal.worksheets.defaults import DEFAULTS
    from portal.worksheets.models import ExamType

    assert ExamType.objects.filter(institution=institution).count() == len(DEFAULTS)
    assert institution.slug in output
    for email, _, _, password in DEMO_USERS:
        assert email in output and password in output


def test_seeding_twice_changes_nothing(db):
    seed()
    seed()
    assert Institution.objects.count() == 1
    assert get_user_model().objects.count() == 4
    assert Membership.objects.count() == 4


def test_it_seeds_the_clinics_pacs_and_ehr_destinations_once(db):
    output = seed()
    pacs = Destination.objects.get(name=hospital.PACS_NAME)
    ehr = Destination.objects.get(name=hospital.EHR_NAME)
    assert pacs.institution.slug == ehr.institution.slug == "demo-clinic"
    assert (pacs.kind, pacs.send_images, pacs.send_report) == ("dicom", True, True)
    assert pacs.options == {"host": "127.0.0.1", "port": 4242, "called_ae": "ORTHANC"}
    assert (ehr.kind, ehr.send_images, ehr.send_report) == ("hl7", False, True)
    assert ehr.options == {"host": "127.0.0.1", "port": 2575, "receiving_app": "DEMO-EHR"}
    assert pacs.is_active and ehr.is_active
    assert hospital.PACS_NAME in output and hospital.EHR_NAME in output
    # Seeding again changes nothing; a destination an administrator added stays.
    institution = pacs.institution
    Destination.objects.create(institution=institution, name="Their PACS", kind="dicom")
    updated = pacs.updated_at
    seed()
    assert Destination.objects.count() == 3
    assert Destination.objects.get(pk=pacs.pk).updated_at == updated


def test_the_seeded_users_can_log_in(client, db):
    seed()
    for email, _, _, password in DEMO_USERS:
        response = client.post(reverse("login"), {"username": email, "password": password})
        assert response.status_code == 302, email
        assert client.get(reverse("home")).context["current_institution"].slug == "demo-clinic"
        client.post(reverse("logout"))
