"""FAST and extended FAST (eFAST): free fluid in the abdomen, pelvis and pericardium,
and (extended) lung sliding on each side."""

from portal.worksheets.defaults.fields import (
    PRESENT_ABSENT,
    choice,
    exam_type,
    impression,
    indications,
    rule,
    section,
    view,
    yesno,
)

SLIDING = [["present", "Present"], ["absent", "Absent"]]


def _fluid_rules(field: str, where: str) -> list[dict]:
    return [
        rule(field, f"Free fluid {where}.", equals="present"),
        rule(field, f"Indeterminate for free fluid {where}.", equals="indeterminate"),
    ]


FAST = exam_type(
    "fast",
    "FAST / eFAST",
    # Abdomen is left unclaimed: the same preset serves biliary, aorta and renal exams.
    applications=[],
    # The chest of an eFAST adds 76604 (chest, real time) when it is documented.
    cpt=["76705", "93308"],
    sections=[
        indications(
            "Blunt thoracoabdominal trauma",
            "Penetrating thoracoabdominal trauma",
            "Trauma in pregnancy",
            "Undifferentiated hypotension",
            "Dyspnoea after trauma",
        ),
        section(
            "ruq",
            "Right upper quadrant",
            choice(
                "ruq_fluid",
                "Free fluid in the hepatorenal space (Morison's pouch)",
                PRESENT_ABSENT,
                "absent",
                required=True,
            ),
            choice(
                "right_pleural_fluid",
                "Fluid above the right hemidiaphragm",
                PRESENT_ABSENT,
                "absent",
            ),
        ),
        section(
            "luq",
            "Left upper quadrant",
            choice(
                "luq_fluid",
                "Free fluid in the splenorenal or subphrenic space",
                PRESENT_ABSENT,
                "absent",
                required=True,
            ),
            choice(
                "left_pleural_fluid", "Fluid above the left hemidiaphragm", PRESENT_ABSENT, "absent"
            ),
        ),
        section(
            "pelvis",
            "Pelvis",
            choice(
                "pelvic_fluid",
                "Free fluid in the pelvis (rectovesical or rectouterine)",
                PRESENT_ABSENT,
                "absent",
                required=True,
            ),
        ),
        section(
            "pericardium",
            "Pericardium",
            choice(
                "pericardial_effusion",
                "Pericardial effusion",
                PRESENT_ABSENT,
                "absent",
                required=True,
            ),
            yesno("cardiac_activity", "Cardiac activity", True),
        ),
        section(
            "chest",
            "Chest (extended FAST)",
            choice("right_sliding", "Lung sliding, right", SLIDING, "present"),
            choice("left_sliding", "Lung sliding, left", SLIDING, "present"),
            yesno("lung_point", "Lung point", False),
        ),
    ],
    views=[
        view("ruq", "Right upper quadrant (hepatorenal, with the diaphragm and liver tip)"),
        view("luq", "Left upper quadrant (splenorenal, with the diaphragm)"),
        view("pelvis", "Pelvis, transverse and sagittal"),
        view("pericardium", "Subxiphoid or parasternal (pericardium)"),
        view("right_chest", "Right anterior chest (extended FAST)", required=False),
        view("left_chest", "Left anterior chest (extended FAST)", required=False),
    ],
    impression=impression(
        _fluid_rules("ruq_fluid", "in the right upper quadrant (Morison's pouch)"),
        _fluid_rules("luq_fluid", "in the left upper quadrant"),
        _fluid_rules("pelvic_fluid", "in the pelvis"),
        rule("pericardial_effusion", "Pericardial effusion.", equals="present"),
        rule(
            "pericardial_effusion",
            "Indeterminate for pericardial effusion.",
            equals="indeterminate",
        ),
        rule("cardiac_activity", "No cardiac activity seen.", equals=False),
        rule(
            "right_pleural_fluid", "Right pleural fluid (haemothorax in trauma).", equals="present"
        ),
        rule(
            "right_pleural_fluid", "Indeterminate for right pleural fluid.", equals="indeterminate"
        ),
        rule("left_pleural_fluid", "Left pleural fluid (haemothorax in trauma).", equals="present"),
        rule("left_pleural_fluid", "Indeterminate for left pleural fluid.", equals="indeterminate"),
        rule(
            "right_sliding",
            "Absent lung sliding on the right: pneumothorax not excluded.",
            equals="absent",
        ),
        rule(
            "left_sliding",
            "Absent lung sliding on the left: pneumothorax not excluded.",
            equals="absent",
        ),
        rule("lung_point", "Lung point seen: pneumothorax.", equals=True),
        otherwise="Negative FAST: no free fluid in the right or left upper quadrant, the "
        "pelvis or the pericardium.",
    ),
)

TYPES = [FAST]
