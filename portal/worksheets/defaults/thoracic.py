"""Lung / thoracic and focused cardiac (echo) ultrasound."""

from portal.worksheets.defaults.fields import (
    PRESENT_ABSENT,
    choice,
    exam_type,
    impression,
    indications,
    number,
    rule,
    section,
    view,
    yesno,
)

SLIDING = [["present", "Present"], ["absent", "Absent"]]
B_LINES = [["none", "None or fewer than 3"], ["focal", "Focal"], ["diffuse", "Diffuse"]]


def _hemithorax(side: str) -> dict:
    return section(
        side,
        f"{side.capitalize()} hemithorax",
        choice(f"{side}_sliding", "Lung sliding", SLIDING, "present", required=True),
        yesno(f"{side}_lung_point", "Lung point", False),
        choice(f"{side}_b_lines", "B-lines", B_LINES, "none", required=True),
        choice(f"{side}_consolidation", "Consolidation", PRESENT_ABSENT, "absent"),
        choice(f"{side}_effusion", "Pleural effusion", PRESENT_ABSENT, "absent", required=True),
    )


def _hemithorax_rules(side: str) -> list[dict]:
    s = side
    return [
        rule(
            f"{s}_sliding",
            f"Absent lung sliding on the {s}: pneumothorax not excluded.",
            equals="absent",
        ),
        rule(f"{s}_lung_point", f"Lung point on the {s}: pneumothorax.", equals=True),
        rule(f"{s}_b_lines", f"Focal B-lines on the {s}.", equals="focal"),
        rule(
            f"{s}_b_lines", f"Diffuse B-lines on the {s} (interstitial syndrome).", equals="diffuse"
        ),
        rule(f"{s}_consolidation", f"Consolidation on the {s}.", equals="present"),
        rule(
            f"{s}_consolidation",
            f"Indeterminate for consolidation on the {s}.",
            equals="indeterminate",
        ),
        rule(f"{s}_effusion", f"{s.capitalize()} pleural effusion.", equals="present"),
        rule(
            f"{s}_effusion",
            f"Indeterminate for a {s} pleural effusion.",
            equals="indeterminate",
        ),
    ]


LUNG = exam_type(
    "lung",
    "Lung / thoracic",
    applications=["Lung"],
    cpt=["76604"],
    sections=[
        indications(
            "Dyspnoea",
            "Hypoxia",
            "Chest pain",
            "Chest trauma",
            "Suspected pneumothorax",
            "Suspected pleural effusion",
            "Suspected pulmonary oedema",
            "Suspected pneumonia",
        ),
        _hemithorax("right"),
        _hemithorax("left"),
    ],
    views=[
        view("right_anterior", "Right anterior"),
        view("right_lateral", "Right lateral"),
        view("right_posterolateral", "Right posterolateral (PLAPS point)", required=False),
        view("left_anterior", "Left anterior"),
        view("left_lateral", "Left lateral"),
        view("left_posterolateral", "Left posterolateral (PLAPS point)", required=False),
    ],
    impression=impression(
        _hemithorax_rules("right"),
        _hemithorax_rules("left"),
        otherwise="Lung sliding present bilaterally; no B-line pattern or effusion.",
    ),
)

EFFUSION_SIZE = [
    ["none", "None"],
    ["small", "Small (under 1 cm)"],
    ["moderate", "Moderate (1 to 2 cm)"],
    ["large", "Large (over 2 cm)"],
    ["indeterminate", "Indeterminate"],
]
LV_FUNCTION = [
    ["normal", "Normal"],
    ["decreased", "Decreased (mildly to moderately)"],
    ["severely_decreased", "Severely decreased"],
    ["hyperdynamic", "Hyperdynamic"],
    ["indeterminate", "Indeterminate"],
]
IVC_VARIATION = [
    ["over_50", "Collapses more than 50% with inspiration or sniff"],
    ["under_50", "Collapses less than 50%"],
    ["none", "No respiratory variation (plethoric)"],
]

CARDIAC = exam_type(
    "cardiac",
    "Focused cardiac (echo)",
    applications=["Cardiac"],
    cpt=["93308"],
    sections=[
        indications(
            "Cardiac arrest",
            "Hypotension or shock",
            "Dyspnoea",
            "Chest pain",
            "Syncope",
            "Chest trauma",
            "Suspected pericardial effusion or tamponade",
            "Suspected pulmonary embolism",
        ),
        section(
            "pericardium",
            "Pericardium",
            choice(
                "pericardial_effusion", "Pericardial effusion", EFFUSION_SIZE, "none", required=True
            ),
            choice(
                "tamponade",
                "Signs of tamponade (RA or RV diastolic collapse, plethoric IVC)",
                PRESENT_ABSENT,
                "absent",
            ),
        ),
        section(
            "left_ventricle",
            "Left ventricle",
            choice(
                "cardiac_activity",
                "Cardiac activity",
                [["present", "Present"], ["absent", "Absent (standstill)"]],
                "present",
            ),
            choice(
                "lv_function",
                "Global left ventricular systolic function",
                LV_FUNCTION,
                "normal",
                required=True,
            ),
        ),
        section(
            "right_ventricle",
            "Right ventricle",
            choice(
                "rv_size",
                "Right ventricular size",
                [
                    ["normal", "Normal (smaller than the LV)"],
                    ["dilated", "Dilated (as large as the LV or larger)"],
                ],
                "normal",
            ),
            choice("septal_flattening", "Septal flattening (D sign)", PRESENT_ABSENT, "absent"),
        ),
        section(
            "ivc",
            "Inferior vena cava",
            number("ivc_diameter", "IVC maximal diameter", "cm", 0, 5),
            choice("ivc_variation", "IVC respiratory variation", IVC_VARIATION, "over_50"),
        ),
    ],
    views=[
        view("parasternal_long", "Parasternal long axis"),
        view("parasternal_short", "Parasternal short axis"),
        view("apical_four", "Apical four-chamber"),
        view("subxiphoid", "Subxiphoid four-chamber"),
        view("ivc", "Inferior vena cava (subxiphoid long axis)", required=False),
    ],
    impression=impression(
        rule("cardiac_activity", "No cardiac activity (cardiac standstill).", equals="absent"),
        rule("pericardial_effusion", "Small pericardial effusion.", equals="small"),
        rule("pericardial_effusion", "Moderate pericardial effusion.", equals="moderate"),
        rule("pericardial_effusion", "Large pericardial effusion.", equals="large"),
        rule(
            "pericardial_effusion",
            "Indeterminate for pericardial effusion.",
            equals="indeterminate",
        ),
        rule("tamponade", "Sonographic signs of cardiac tamponade.", equals="present"),
        rule("tamponade", "Tamponade physiology cannot be excluded.", equals="indeterminate"),
        rule(
            "lv_function",
            "Decreased global left ventricular systolic function.",
            equals="decreased",
        ),
        rule(
            "lv_function",
            "Severely decreased global left ventricular systolic function.",
            equals="severely_decreased",
        ),
        rule("lv_function", "Hyperdynamic left ventricle.", equals="hyperdynamic"),
        rule(
            "lv_function",
            "Left ventricular function could not be assessed.",
            equals="indeterminate",
        ),
        rule(
            "rv_size",
            "Dilated right ventricle (RV as large as the LV or larger).",
            equals="dilated",
        ),
        rule(
            "septal_flattening",
            "Septal flattening: right ventricular pressure or volume overload.",
            equals="present",
        ),
        rule("septal_flattening", "Indeterminate for septal flattening.", equals="indeterminate"),
        rule("ivc_diameter", "Dilated IVC (over 2.1 cm).", gt=2.1),
        rule(
            "ivc_variation",
            "IVC collapses less than 50%: raised right atrial pressure likely.",
            equals="under_50",
        ),
        rule(
            "ivc_variation",
            "Plethoric IVC without respiratory variation: high right atrial pressure.",
            equals="none",
        ),
        otherwise="No pericardial effusion; normal global left ventricular systolic function.",
    ),
)

TYPES = [LUNG, CARDIAC]
