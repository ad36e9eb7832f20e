"""docs/api.md's example, run as a partner would: over HTTP against a live portal."""

import importlib.util
import json
import time
import uuid
from pathlib import Path
from urllib.parse import urljoin

import pytest
from standardwebhooks import Webhook

from integrations.webhooks import signatures
from portal.api.keys import create_key
from portal.reports.models import Report
from portal.tenants.models import Membership
from tests.api.conftest import complete_answers
from tests.factories import make_exam

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("portal_api", ROOT / "docs/examples/portal_api.py")
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)

WORKSHEET = {
    "indication": "Right upper quadrant pain after meals.",
    "findings": "Mobile echogenic foci with shadowing.",
    "impression": "Cholelithiasis.",
    "image_quality": 4,
    "clinician_feedback": "Good sweep.",
}


@pytest.fixture
def media(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"


@pytest.mark.django_db(transaction=True)
def test_list_download_write_and_sign_with_a_key(live_server, media, bob, northside, tmp_path):
    exam = make_exam(northside, captures=2)
    make_exam(northside, review_state="signed")  # not new: not listed
    membership = Membership.objects.get(user=bob, institution=northside)
    _, key = create_key(membership, name="docs example", scope="write")
    base = live_server.url

    listed = list(example.new_exams(base, key, page_size=1))
    assert [e["id"] for e in listed] == [exam.pk]

    captures = example.session(key).get(urljoin(base, listed[0]["captures_url"]), timeout=10).json()
    paths = [example.download_capture(base, key, c, tmp_path) for c in captures["results"]]
    assert len(paths) == 2 and all(p.stat().st_size > 0 for p in paths)

    with pytest.raises(RuntimeError, match="incomplete: answers"):
        example.write_findings_and_sign(base, key, exam.pk, {**WORKSHEET, "exam_type": "lung"})
    worksheet = {**WORKSHEET, **complete_answers(exam)}
    report_id = example.write_findings_and_sign(base, key, exam.pk, worksheet)
    assert Report.objects.get(pk=report_id).exam_id == exam.pk
    with pytest.raises(RuntimeError):
        example.write_findings_and_sign(base, key, exam.pk, worksheet)  # signed already


def test_the_webhook_check_agrees_with_the_portal_and_the_standard_library():
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = json.dumps({"type": "exam.signed", "data": {"exam_id": 1}}).encode()
    webhook_id, now = f"msg_{uuid.uuid4().hex}", int(time.time())
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(now),
        "webhook-signature": signatures.signature_header([secret], webhook_id, now, body),
    }
    assert example.verify_webhook(secret, headers, body)
    Webhook(secret).verify(body, headers)  # the independent implementation agrees
    assert not example.verify_webhook(secret, headers, body + b" ")
    stale = {**headers, "webhook-timestamp": str(now - 3600)}
    assert not example.verify_webhook(secret, stale, body)
