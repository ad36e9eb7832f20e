"""Offboarding fixtures: the storage tests' real S3 server and local folder, and two
institutions full of records (Northside to export, Southside that must never leak)."""

import pytest

from tests.offboarding.builders import fill
from tests.storage.conftest import (  # noqa: F401 - fixtures used by these tests
    local_storage,
    s3_bucket,
    s3_server,
    s3_storage,
    storage,
)


@pytest.fixture
def world(alice, bob, charlie, northside, southside):
    """Northside (alice admin, bob reviewer) and Southside (charlie admin, alice a
    clinician), each with an exam, captures, findings, reports, QA and audit rows."""
    north = fill(northside, alice, bob, patient="Nora Northwind", tag="north")
    south = fill(southside, charlie, charlie, patient="Sam Southgate", tag="south")
    return {"north": north, "south": south}
