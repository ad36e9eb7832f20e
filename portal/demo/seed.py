"""The demo institution and its users. Running the seed twice changes nothing."""

from django.contrib.auth import get_user_model
from django.db import transaction

from portal.demo import outbound
from portal.qa.models import QASettings
from portal.tenants.models import Institution, Membership

DEMO_INSTITUTION = "Demo Clinic"
DEMO_SLUG = "demo-clinic"
# Fixed, printed passwords: the demo runs on 127.0.0.1 only, with DJANGO_DEBUG=1.
DEMO_USERS = [
    ("admin@demo.clinic", "Ada Admin", Membership.Role.ADMIN, "demo-admin-pass"),
    ("reviewer@demo.clinic", "Rui Reviewer", Membership.Role.REVIEWER, "demo-reviewer-pass"),
    ("clinician@demo.clinic", "Cleo Clinician", Membership.Role.CLINICIAN, "demo-clinician-pass"),
    # A resident: what they sign waits for an attending's attestation.
    ("trainee@demo.clinic", "Tam Trainee", Membership.Role.REVIEWER, "demo-trainee-pass"),
]
TRAINEES = {"trainee@demo.clinic"}
# The QA program (portal.qa): the administrator leads it and scores too, the reviewer
# scores; a reviewer never QA-reviews an exam they signed, so each has someone to score.
QA_LEADS = {"admin@demo.clinic"}
QA_REVIEWERS = {"admin@demo.clinic", "reviewer@demo.clinic"}
# Shown after the signer's name on the reports.
CREDENTIALS = {"admin@demo.clinic": "MD, RDMS", "reviewer@demo.clinic": "MD"}


@transaction.atomic
def seed_demo():
    institution, _ = Institution.objects.get_or_create(
        slug=DEMO_SLUG, defaults={"name": DEMO_INSTITUTION}
    )
    User = get_user_model()
    for email, full_name, role, password in DEMO_USERS:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(
                email=email,
                password=password,
                full_name=full_name,
                credentials=CREDENTIALS.get(email, ""),
            )
        if role == Membership.Role.ADMIN and not user.is_superuser:
            # The demo administrator also manages tenants in Django admin.
            user.is_staff = user.is_superuser = True
            user.save(update_fields=["is_staff", "is_superuser"])
        Membership.objects.update_or_create(
            institution=institution,
            user=user,
            defaults={
                "role": role,
                "is_trainee": email in TRAINEES,
                "is_qa_lead": email in QA_LEADS,
                "is_qa_reviewer": email in QA_REVIEWERS,
            },
        )
    # The demo runs its QA program: signed exams of operators not yet credentialed go to
    # the QA queue, and their own reads wait for an attending's attestation.
    QASettings.objects.update_or_create(institution=institution, defaults={"is_active": True})
    # Its PACS and EHR, at the ports run_demo starts them on (it wires them again there).
    outbound.wire(institution, dicom_port=outbound.ORTHANC_DICOM_PORT, hl7_port=outbound.HL7_PORT)
    return institution
