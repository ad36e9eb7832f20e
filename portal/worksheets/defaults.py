"""The exam types every institution starts with, drawn from ACEP's emergency ultrasound
standard reporting guidelines; each institution then edits its own copies.

``install`` adds the ones an institution lacks (by code) and never touches the others,
so it is safe to run again (``python manage.py examtypes install``).
"""

from __future__ import annotations

from django.db import transaction

# Each: code, name, the Clarius applications that propose it, CPT codes (data only), and
# the worksheet definition (portal.worksheets.engine).
DEFAULTS: list[dict] = []


def _choice(code, label, choices, *, required=True, normal=None):
    field = {"code": code, "label": label, "type": "choice", "choices": choices}
    if required:
        field["required"] = True
    if normal is not None:
        field["normal"] = normal
    return field


PRESENT_ABSENT = [["absent", "Absent"], ["present", "Present"], ["indeterminate", "Indeterminate"]]

DEFAULTS.append(
    {
        "code": "lung",
        "name": "Lung / thoracic",
        "clarius_applications": ["Lung"],
        "cpt_codes": ["76604"],
        "definition": {
            "sections": [
                {
                    "code": "right",
                    "title": "Right hemithorax",
                    "fields": [
                        _choice(
                            "right_sliding",
                            "Lung sliding",
                            [["present", "Present"], ["absent", "Absent"]],
                            normal="present",
                        ),
                        _choice(
                            "right_b_lines",
                            "B-lines",
                            [
                                ["none", "None or fewer than 3"],
                                ["focal", "Focal"],
                                ["diffuse", "Diffuse"],
                            ],
                            normal="none",
                        ),
                        _choice(
                            "right_effusion", "Pleural effusion", PRESENT_ABSENT, normal="absent"
                        ),
                    ],
                },
                {
                    "code": "left",
                    "title": "Left hemithorax",
                    "fields": [
                        _choice(
                            "left_sliding",
                            "Lung sliding",
                            [["present", "Present"], ["absent", "Absent"]],
                            normal="present",
                        ),
                        _choice(
                            "left_b_lines",
                            "B-lines",
                            [
                                ["none", "None or fewer than 3"],
                                ["focal", "Focal"],
                                ["diffuse", "Diffuse"],
                            ],
                            normal="none",
                        ),
                        _choice(
                            "left_effusion", "Pleural effusion", PRESENT_ABSENT, normal="absent"
                        ),
                    ],
                },
            ],
            "views": [
                {"code": "right_anterior", "label": "Right anterior", "required": True},
                {"code": "right_lateral", "label": "Right lateral", "required": True},
                {"code": "left_anterior", "label": "Left anterior", "required": True},
                {"code": "left_lateral", "label": "Left lateral", "required": True},
            ],
            "impression": {
                "rules": [
                    {
                        "when": {"field": "right_sliding", "equals": "absent"},
                        "text": "Absent lung sliding on the right: pneumothorax not excluded.",
                    },
                    {
                        "when": {"field": "left_sliding", "equals": "absent"},
                        "text": "Absent lung sliding on the left: pneumothorax not excluded.",
                    },
                    {
                        "when": {"field": "right_b_lines", "equals": "diffuse"},
                        "text": "Diffuse B-lines on the right (interstitial syndrome).",
                    },
                    {
                        "when": {"field": "left_b_lines", "equals": "diffuse"},
                        "text": "Diffuse B-lines on the left (interstitial syndrome).",
                    },
                    {
                        "when": {"field": "right_effusion", "equals": "present"},
                        "text": "Right pleural effusion.",
                    },
                    {
                        "when": {"field": "left_effusion", "equals": "present"},
                        "text": "Left pleural effusion.",
                    },
                ],
                "otherwise": "Lung sliding present bilaterally; no B-line pattern or effusion.",
            },
        },
    }
)


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
