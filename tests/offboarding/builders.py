"""An institution's record made directly in the database: one of every kind of row
the archive holds, and the secrets it must not."""

import hashlib

from django.apps import apps
from django.utils import timezone

from portal import encryption, storage
from portal.exams import media
from portal.exams.models import AuditEvent, Capture
from portal.outbound.models import Destination, Transmission
from portal.qa.models import Credential, Outcome, QAReview
from portal.reports.models import Addendum, Delivery, Findings, Report
from portal.tenants.models import Membership
from portal.worksheets.models import ExamType
from tests.factories import make_exam


def fill(institution, admin, reviewer, *, patient, tag):
    now = timezone.now()
    exam_type = ExamType.objects.filter(institution=institution).order_by("pk").first()
    template = exam_type.current_template()
    exam = make_exam(
        institution, admin, patient_name=patient, captures=2, exam_type=exam_type,
        reviewer=reviewer, review_state="signed", signed_at=now,
    )  # fmt: skip
    first, second = exam.captures.order_by("position")
    first.thumbnail = media.thumbnail_relpath(first)
    storage.save_bytes(first.thumbnail, f"thumbnail of {tag}".encode())
    first.save()
    # The same content sent again: a reference between captures of the exam.
    Capture.objects.filter(pk=second.pk).update(duplicate_of=first)
    Findings.objects.create(
        institution=institution, exam=exam, template=template, answers={"fluid": "no"},
        key_images={str(first.pk): f"key image {tag}"}, findings=f"Findings {tag}",
        impression=f"Impression {tag}", signed_by=reviewer, signed_at=now, updated_by=reviewer,
    )  # fmt: skip
    addendum = Addendum.objects.create(
        institution=institution, exam=exam, number=1, text=f"Addendum {tag}",
        signed_by=reviewer, signed_at=now,
    )  # fmt: skip
    addendum.captures.add(second)
    pdf = f"%PDF-1.4 report of {tag}\n".encode() * 50
    report = Report.objects.create(
        institution=institution, exam=exam, submission=exam.submissions.get(), version=1,
        name=f"Report {tag}", file=f"{institution.pk}/{exam.exam_uuid}/reports/v001-x.pdf",
        size=len(pdf), sha256=hashlib.sha256(pdf).hexdigest(), source=Report.Source.GENERATED,
        state=Report.State.PUSHED, created_by=reviewer,
    )  # fmt: skip
    storage.save_bytes(report.file, pdf)
    Delivery.objects.create(
        institution=institution, report=report, destination="clarius", state="sent", sent_at=now
    )
    QAReview.objects.create(
        institution=institution, exam=exam, reason=QAReview.Reason.SAMPLED, operator=admin,
        exam_type=exam_type, assignee=reviewer, due_at=now, flag_note=f"QA note {tag}",
    )  # fmt: skip
    Credential.objects.create(
        institution=institution, user=admin, exam_type=exam_type, basis=Credential.Basis.GRANT,
        since=now, granted_by=admin, note=f"credential {tag}",
    )  # fmt: skip
    Outcome.objects.create(
        institution=institution, exam=exam, source=f"CT {tag}", results={"fluid": "negative"},
        recorded_by=reviewer, recorded_at=now,
    )  # fmt: skip
    destination = Destination.objects.create(
        institution=institution, name=f"PACS {tag}", kind="dicom", options={"host": "pacs"},
        secret_encrypted=encryption.encrypt(f"destination-secret-{tag}"), created_by=admin,
    )  # fmt: skip
    Transmission.objects.create(
        institution=institution, destination=destination, exam=exam, what="image",
        capture=first, state="sent",
    )  # fmt: skip
    for action in (AuditEvent.Action.VIEW_EXAM, AuditEvent.Action.OPEN_MEDIA):
        AuditEvent.objects.create(
            institution=institution, user=reviewer, action=action, object_type="exam",
            object_id=str(exam.pk), ip_address="10.0.0.7", detail={"tag": tag, "n": 1.5},
        )  # fmt: skip
    # Secrets that must stay behind.
    from portal.api.keys import create_key

    membership = Membership.objects.get(institution=institution, user=admin)
    create_key(membership, name=f"key {tag}", scope="read", created_by=admin)
    link = apps.get_model("clarius", "ClariusLink")
    link.objects.create(institution=institution, user=admin, token=f"CUSTOMER-TOKEN-{tag}")
    return exam
