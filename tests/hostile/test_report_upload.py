"""Whatever file reaches ``POST /api/v1/exams/<id>/reports/``, the answer is a 201 or a
4xx with a reason, never a 5xx, and nothing is half-written: a 201 leaves exactly one new
row and its file, byte for byte what was sent; a refusal leaves no row and no file.

Files: empty, PDF-looking or not, small or spooled to disk (over 2.5 MB), over the size
cap; file names with NUL, controls, bidi characters, raw invalid UTF-8, path parts, or
thousands of characters; report names likewise. Multipart bodies are built by hand, so
the headers carry exactly those bytes.
"""

import secrets

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import event, given
from hypothesis import strategies as st

from portal import storage
from portal.reports import issuing
from portal.reports.models import Report
from tests.factories import make_exam

pytestmark = pytest.mark.hostile

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SPOOLED = 2_621_440 + 1  # Django keeps uploads up to 2.5 MB in memory, larger ones on disk
CAP = 3 * 1024 * 1024  # the size cap in these tests, so a file over it stays cheap

raw_characters = st.one_of(
    st.characters(blacklist_categories=()),
    st.sampled_from('\x00\x01\x1b\x7f\x85\u202e\u2066\ufeff\ud800"\\/;\r\n'),
)
raw_text = st.text(alphabet=raw_characters, max_size=40)


@st.composite
def file_names(draw):
    kind = draw(st.sampled_from(["text", "long", "long-extension", "path", "bytes"]))
    if kind == "text":
        return draw(raw_text).encode("utf-8", "surrogatepass")
    if kind == "long":
        return ("é" * draw(st.integers(200, 5000)) + ".pdf").encode()
    if kind == "long-extension":
        return ("report." + "ü" * draw(st.integers(100, 3000))).encode()
    if kind == "path":
        return b"../../" + draw(raw_text).encode("utf-8", "surrogatepass") + b"/x.pdf"
    return draw(st.binary(max_size=40))


@st.composite
def contents(draw):
    kind = draw(st.sampled_from(["pdf", "empty", "junk", "html", "spooled", "over-cap"]))
    event(f"content: {kind}")
    if kind == "pdf":
        return PDF + draw(st.binary(max_size=200))
    if kind == "empty":
        return b""
    if kind == "junk":
        return draw(st.binary(min_size=1, max_size=200))
    if kind == "html":
        return b"<html>%PDF-</html>"
    if kind == "spooled":
        return PDF + b"0" * (SPOOLED - len(PDF))
    return PDF + b"0" * (CAP + 1 - len(PDF))


def multipart(name: bytes, filename: bytes, content: bytes, content_type: bytes):
    boundary = secrets.token_hex(16).encode()
    body = b"".join(
        [
            b"--" + boundary + b"\r\n",
            b'Content-Disposition: form-data; name="name"\r\n\r\n',
            name + b"\r\n",
            b"--" + boundary + b"\r\n",
            b'Content-Disposition: form-data; name="file"; filename="' + filename + b'"\r\n',
            b"Content-Type: " + content_type + b"\r\n\r\n",
            content + b"\r\n",
            b"--" + boundary + b"--\r\n",
        ]
    )
    return body, f"multipart/form-data; boundary={boundary.decode()}"


def report_files():
    root = storage.local_root()
    return {str(p.relative_to(root)) for p in root.glob("*/*/reports/*")}


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path, monkeypatch):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr(issuing, "MAX_UPLOAD_BYTES", CAP)
    monkeypatch.setattr("django_q.tasks.async_task", lambda *a, **k: None)


@pytest.fixture
def reviewer(client, bob, northside):
    client.force_login(bob)
    return client


@given(
    name=st.one_of(st.just("Outside report"), raw_text).map(
        lambda t: t.encode("utf-8", "surrogatepass")
    ),
    filename=file_names(),
    content=contents(),
    content_type=st.sampled_from([b"application/pdf", b"text/html", b"", b"\x00/\xff"]),
)
def test_any_uploaded_file_is_stored_whole_or_refused_with_a_reason(
    reviewer, northside, bob, name, filename, content, content_type
):
    exam = make_exam(northside, bob, captures=0)
    files_before = report_files()
    body, body_type = multipart(name, filename, content, content_type)
    url = reverse("api-exam-reports", args=[exam.pk])
    response = reviewer.post(url, body, content_type=body_type)
    event(f"→ {response.status_code}")
    assert response.status_code in (201, 400, 413), response.content[:300]
    rows = list(Report.objects.filter(exam=exam))
    new_files = report_files() - files_before
    if response.status_code != 201:
        assert response.json()  # the reason, as JSON
        assert rows == [] and new_files == set()
        return
    [report] = rows
    assert new_files == {report.file}
    assert storage.local_file(report.file).read_bytes() == content
    assert (report.size, report.state, report.source) == (len(content), "pending", "uploaded")
    assert report.name.strip() and "\x00" not in report.name and "\u202e" not in report.name


@given(declared=st.sampled_from(["", "-1", "abc", "9" * 40, str(CAP * 2), "1e9", "٣"]))
def test_any_declared_length_is_a_4xx_or_success_never_a_5xx(reviewer, northside, bob, declared):
    exam = make_exam(northside, bob, captures=0)
    body, body_type = multipart(b"R", b"r.pdf", PDF, b"application/pdf")
    url = reverse("api-exam-reports", args=[exam.pk])
    response = reviewer.post(url, body, content_type=body_type, CONTENT_LENGTH=declared)
    event(f"Content-Length {declared[:12]!r} → {response.status_code}")
    assert response.status_code in (201, 400, 413)
    assert Report.objects.filter(exam=exam).count() == (response.status_code == 201)


@given(extension=st.text(alphabet=raw_characters, min_size=1, max_size=3000))
def test_a_large_upload_with_any_extension_is_never_a_5xx_even_at_the_login_page(extension):
    # Spooled to disk (over 2.5 MB), Django named the temporary file after the
    # extension: "File name too long", a 500, for anyone posting a form with a file.
    filename = ("report." + extension).encode("utf-8", "surrogatepass")
    body, body_type = multipart(b"someone@example.org", filename, b"0" * SPOOLED, b"x/y")
    response = Client().post(reverse("login"), body, content_type=body_type)
    assert response.status_code < 500
