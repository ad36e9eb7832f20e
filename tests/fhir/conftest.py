"""The FHIR tests use the review tests' exams and users (see tests/reports/conftest.py):
``exams["north"]`` performed by bob at Northside (alice its admin, bob a reviewer,
charlie a stranger); at Southside alice is a clinician who performed ``alice_south``.

``quick_pdf``: a report version's "PDF" is a few bytes written where the worker would
draw it (then planned and delivered as usual), for tests about what carries the PDF, not
what it shows: drawing one takes seconds. Tests that leave it out draw the real one.
"""

import pytest

from tests.reports.conftest import exams, login, media_root, users  # noqa: F401


@pytest.fixture
def quick_pdf(monkeypatch):
    from portal import storage
    from portal.reports import tasks

    def build_pdf(report):
        pdf = (
            b"%PDF-1.4\n% version "
            + str(report.version).encode()
            + b" of exam "
            + str(report.exam_id).encode()
            + b"\n%%EOF\n"
        )
        return {"size": len(pdf), "sha256": storage.save_bytes(report.file, pdf)}

    monkeypatch.setattr(tasks, "build_pdf", build_pdf)
