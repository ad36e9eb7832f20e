"""The Demo Clinic's hospital side: a local Orthanc as its PACS and an HL7 listener as its
EHR, which ``run_demo`` starts, wired as the clinic's two destinations.

``wire`` makes the two destinations say where the demo's Orthanc and listener are this
time (the fixed ports below when free); one that is not running is paused, so nothing
is planned for it. ``seed_demo`` wires the fixed ports; running either again changes
nothing, and a destination an administrator added stays as it is.
"""

from __future__ import annotations

from django.db import transaction

from portal.outbound.models import Destination

HOST = "127.0.0.1"
# Orthanc's own defaults, so its page is where Orthanc's documentation says it is.
ORTHANC_HTTP_PORT = 8042
ORTHANC_DICOM_PORT = 4242
ORTHANC_AET = "ORTHANC"
HL7_PORT = 2575  # the port IANA lists for HL7 over MLLP
PACS_NAME = "Demo PACS (local Orthanc)"
EHR_NAME = "Demo EHR (HL7 listener)"
INSTALL_ORTHANC = "sudo apt-get install orthanc orthanc-dicomweb"


def explorer_url(http_port: int) -> str:
    return f"http://{HOST}:{http_port}/app/explorer.html"


@transaction.atomic
def wire(institution, *, dicom_port: int | None, hl7_port: int | None) -> list[Destination]:
    """The PACS destination (DICOM C-STORE to Orthanc, images and reports) and the EHR
    destination (HL7 ORU^R01, reports); ``None`` for one that is not running pauses it."""
    wanted = [
        (PACS_NAME, "dicom", dicom_port, {"called_ae": ORTHANC_AET}, True),
        (EHR_NAME, "hl7", hl7_port, {"receiving_app": "DEMO-EHR"}, False),
    ]
    rows = []
    for name, kind, port, extra, images in wanted:
        destination = Destination.objects.filter(institution=institution, name=name).first()
        if destination is None:
            destination = Destination(institution=institution, name=name, kind=kind)
        options = {**(destination.options or {}), "host": HOST, **extra}
        if port is not None:
            options["port"] = port
        state = {
            "kind": kind,
            "options": options,
            "send_images": images,
            "send_report": True,
            "is_active": port is not None,
        }
        if destination.pk is None or any(
            getattr(destination, field) != value for field, value in state.items()
        ):
            for field, value in state.items():
                setattr(destination, field, value)
            destination.save()
        rows.append(destination)
    return rows
