import pytest
from django.urls import reverse

from portal.worksheets.models import ExamType
from tests.factories import make_exam

pytestmark = pytest.mark.django_db


def test_smoke(client, trio, northside, settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path
    alice, bob, charlie = trio
    exam = make_exam(northside, bob, captures=2)
    lung = ExamType.objects.get(institution=northside, code="lung")
    client.force_login(bob)
    r = client.get(reverse("exam-detail", args=[exam.pk]))
    assert r.status_code == 200, r.content[:2000]
    r = client.post(
        reverse("exam-findings", args=[exam.pk]), {"exam_type": "lung", "impression": ""}
    )
    assert r.status_code == 302, r.content.decode()[:3000]
    exam.refresh_from_db()
    assert exam.exam_type == lung
    r = client.get(reverse("exam-detail", args=[exam.pk]))
    html = r.content.decode()
    assert "Lung sliding" in html
    # normal macro w/o JS
    r = client.post(
        reverse("exam-findings", args=[exam.pk]),
        {"exam_type": "lung", "normal": "right", "worksheet": exam.findings.template_id},
    )
    exam.findings.refresh_from_db()
    assert exam.findings.answers["right_sliding"] == "present", exam.findings.answers
    r = client.post(
        reverse("exam-review", args=[exam.pk]),
        {
            "exam_type": "lung",
            "worksheet": exam.findings.template_id,
            "answer__right_sliding": "present",
        },
    )
    assert r.status_code == 400
    html = r.content.decode()
    assert "required before signing" in html
    data = {"exam_type": "lung", "worksheet": exam.findings.template_id, "impression": "x"}
    for f in ["right_sliding", "left_sliding"]:
        data["answer__" + f] = "present"
    for f in ["right_b_lines", "left_b_lines"]:
        data["answer__" + f] = "none"
    for f in ["right_effusion", "left_effusion"]:
        data["answer__" + f] = "absent"
    for v in ["right_anterior", "right_lateral", "left_anterior"]:
        data["view__" + v] = "obtained"
    data["view__left_lateral"] = "not_obtained"
    data["reason__left_lateral"] = "dressing"
    r = client.post(reverse("exam-impression", args=[exam.pk]), data)
    assert r.json()["impression"].startswith("Lung sliding present"), r.json()
    r = client.post(reverse("exam-review", args=[exam.pk]), data)
    assert r.status_code == 200, r.content.decode()[:3000]
    assert "Not obtained: dressing" in r.content.decode()
    exam.findings.refresh_from_db()
    from portal.reports.review import findings_version

    r = client.post(
        reverse("exam-sign", args=[exam.pk]), {"version": findings_version(exam.findings)}
    )
    assert r.status_code == 302
    exam.refresh_from_db()
    assert exam.review_state == "signed"
    r = client.get(reverse("exam-detail", args=[exam.pk]))
    assert "Not obtained: dressing" in r.content.decode()
