"""The exam types every institution starts with, drawn from ACEP's emergency ultrasound
standard reporting guidelines (indications, views, findings, interpretation); each
institution then edits its own copies.

One module per group of applications holds their definitions (``fields`` has the
builders). ``install`` adds the ones an institution lacks (by code) and never touches
the others, so it is safe to run again (``python manage.py examtypes install``).

A Clarius application name is claimed by one default at most: an exam type is proposed
only when exactly one type claims the exam's application. Abdomen (FAST, biliary, aorta,
renal) and Vascular (DVT, vascular access) serve several, so they are left unclaimed and
the clinician picks.
"""

from __future__ import annotations

from django.db import transaction

from portal.worksheets.defaults import (
    abdominal,
    pregnancy,
    procedures,
    superficial,
    thoracic,
    trauma,
    vascular,
)
from portal.worksheets.defaults.fields import exam_type, section, text

OTHER = exam_type(
    "other",
    "Other point-of-care exam",
    applications=[],
    cpt=[],
    sections=[section("findings", "Findings", text("exam_findings", "Findings"))],
    views=[],
)

# Each: code, name, the Clarius applications that propose it, CPT codes (data only), and
# the worksheet definition (portal.worksheets.engine). In the order a worksheet picker
# lists them: resuscitation first, procedures, then the catch-all.
DEFAULTS: list[dict] = [
    *trauma.TYPES,
    *thoracic.TYPES,
    *vascular.TYPES,
    *abdominal.TYPES,
    *pregnancy.TYPES,
    *superficial.TYPES,
    *procedures.TYPES,
    OTHER,
]


def install(institution, *, user=None) -> int:
    """Add the default exam types ``institution`` lacks; returns how many were added."""
    from portal.worksheets.models import ExamType, WorksheetTemplate

    added = 0
    with transaction.atomic():
        have = set(ExamType.objects.for_institution(institution).values_list("code", flat=True))
        for default in DEFAULTS:
            if default["code"] in have:
                continue
            exam_type = ExamType.objects.create(
                institution=institution,
                code=default["code"],
                name=default["name"],
                clarius_applications=default["clarius_applications"],
                cpt_codes=default["cpt_codes"],
            )
            WorksheetTemplate.objects.create(
                institution=institution,
                exam_type=exam_type,
                version=1,
                definition=default["definition"],
                created_by=user,
            )
            added += 1
    return added
