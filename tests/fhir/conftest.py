"""The FHIR tests use the review tests' exams and users (see tests/reports/conftest.py):
``exams["north"]`` performed by bob at Northside (alice its admin, bob a reviewer,
charlie a stranger); at Southside alice is a clinician who performed ``alice_south``."""

from tests.reports.conftest import exams, login, media_root, users  # noqa: F401
