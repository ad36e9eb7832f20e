from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse

from portal.demo.seed import DEMO_USERS
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


def test_the_seeded_users_can_log_in(client, db):
    seed()
    for email, _, _, password in DEMO_USERS:
        response = client.post(reverse("login"), {"username": email, "password": password})
        assert response.status_code == 302, email
        assert client.get(reverse("home")).context["current_institution"].slug == "demo-clinic"
        client.post(reverse("logout"))
