"""Clarius as a destination of signed reports: the PDF goes back to the exam's submission.

Uploaded to ``services/requests/<request_uuid>/reports/`` under the version's name, so
the clinician sees it in the Clarius app next to the exam. Registered in ``apps.py``.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

from integrations.clarius import clients
from integrations.clarius.api.errors import ClariusError
from portal.reports.destinations import DeliveryFailed, Destination

KEY = "clarius"


def send_report(delivery, path: Path) -> str:
    """Upload the version's PDF; the id Clarius gave it (``""`` if it said none)."""
    report = delivery.report
    try:
        with closing(clients.service_client()) as client:
            receipt = client.upload_report(
                str(report.submission.request_uuid), report.name, path, filename=report.filename
            )
    except ClariusError as e:
        raise DeliveryFailed(str(e), permanent=e.permanent) from e
    return str((receipt.extra or {}).get("id", ""))


def accepts(report) -> bool:
    # Every exam comes from Clarius, so every version has a submission to go back to.
    return bool(report.submission_id)


DESTINATION = Destination(key=KEY, label="Clarius", send=send_report, accepts=accepts)
