"""Right upper quadrant (biliary) and renal / bladder ultrasound."""

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

BILIARY = exam_type(
    "biliary",
    "Right upper quadrant / biliary",
    # Abdomen is left unclaimed: the same preset serves FAST, aorta and renal exams.
    applications=[],
    cpt=["76705"],
    sections=[
        indications(
            "Right upper quadrant pain",
            "Epigastric pain",
            "Jaundice",
            "Fever without a source",
            "Nausea and vomiting",
        ),
        section(
            "gallbladder",
            "Gallbladder",
            choice("gallstones", "Gallstones", PRESENT_ABSENT, "absent", required=True),
            yesno("stone_in_neck", "Stone impacted in the gallbladder neck", False),
            choice("sludge", "Sludge", PRESENT_ABSENT, "absent"),
            number("gb_wall", "Anterior wall thickness", "mm", 0, 30),
            choice(
                "pericholecystic_fluid",
                "Pericholecystic fluid",
                PRESENT_ABSENT,
                "absent",
                required=True,
            ),
            choice(
                "murphy",
                "Sonographic Murphy's sign",
                [
                    ["negative", "Negative"],
                    ["positive", "Positive"],
                    ["equivocal", "Equivocal or not assessable"],
                ],
                "negative",
                required=True,
            ),
        ),
        section(
            "ducts",
            "Bile ducts",
            number("cbd", "Common bile duct (inner wall to inner wall)", "mm", 0, 30),
        ),
    ],
    views=[
        view("gallbladder_long", "Gallbladder, long axis"),
        view("gallbladder_trans", "Gallbladder, short axis"),
        view("portal_triad", "Portal triad (common bile duct)", required=False),
    ],
    impression=impression(
        rule("gallstones", "Cholelithiasis.", equals="present"),
        rule("gallstones", "Indeterminate for gallstones.", equals="indeterminate"),
        rule("stone_in_neck", "Stone impacted in the gallbladder neck.", equals=True),
        rule("sludge", "Biliary sludge.", equals="present"),
        rule("sludge", "Indeterminate for biliary sludge.", equals="indeterminate"),
        rule("gb_wall", "Gallbladder wall thickened (over 3 mm).", gt=3),
        rule("pericholecystic_fluid", "Pericholecystic fluid.", equals="present"),
        rule(
            "pericholecystic_fluid",
            "Indeterminate for pericholecystic fluid.",
            equals="indeterminate",
        ),
        rule("murphy", "Positive sonographic Murphy's sign.", equals="positive"),
        rule(
            "murphy", "Sonographic Murphy's sign equivocal or not assessable.", equals="equivocal"
        ),
        rule("cbd", "Common bile duct dilated (over 6 mm).", gt=6),
        otherwise="No gallstones, no pericholecystic fluid and a negative sonographic "
        "Murphy's sign: no sonographic evidence of cholecystitis.",
    ),
)

HYDRONEPHROSIS = [
    ["none", "None"],
    ["mild", "Mild"],
    ["moderate", "Moderate"],
    ["severe", "Severe"],
]


def _kidney(side: str) -> dict:
    return section(
        f"{side}_kidney",
        f"{side.capitalize()} kidney",
        choice(f"{side}_hydronephrosis", "Hydronephrosis", HYDRONEPHROSIS, "none", required=True),
        yesno(f"{side}_stone", "Stone seen", False),
        choice(f"{side}_perinephric_fluid", "Perinephric fluid", PRESENT_ABSENT, "absent"),
        number(f"{side}_length", "Length", "cm", 0, 20),
    )


def _kidney_rules(side: str) -> list[dict]:
    s = side
    return [
        rule(f"{s}_hydronephrosis", f"Mild {s} hydronephrosis.", equals="mild"),
        rule(f"{s}_hydronephrosis", f"Moderate {s} hydronephrosis.", equals="moderate"),
        rule(f"{s}_hydronephrosis", f"Severe {s} hydronephrosis.", equals="severe"),
        rule(f"{s}_stone", f"Stone seen in the {s} kidney.", equals=True),
        rule(f"{s}_perinephric_fluid", f"{s.capitalize()} perinephric fluid.", equals="present"),
        rule(
            f"{s}_perinephric_fluid",
            f"Indeterminate for {s} perinephric fluid.",
            equals="indeterminate",
        ),
    ]


RENAL = exam_type(
    "renal",
    "Renal / bladder",
    applications=["Bladder"],
    # Retroperitoneal, limited; a bladder volume alone is usually 51798 or 76857.
    cpt=["76775"],
    sections=[
        indications(
            "Flank pain",
            "Haematuria",
            "Suspected renal colic",
            "Acute kidney injury",
            "Urinary retention",
            "Urinary tract infection or sepsis",
        ),
        _kidney("right"),
        _kidney("left"),
        section(
            "bladder",
            "Bladder",
            number("bladder_volume", "Bladder volume", "mL", 0, 5000),
            choice(
                "ureteric_jets",
                "Ureteric jets",
                [
                    ["both", "Seen on both sides"],
                    ["right_only", "Right only"],
                    ["left_only", "Left only"],
                    ["none", "Not seen"],
                ],
                "both",
            ),
        ),
    ],
    views=[
        view("right_kidney_long", "Right kidney, long axis"),
        view("right_kidney_trans", "Right kidney, short axis"),
        view("left_kidney_long", "Left kidney, long axis"),
        view("left_kidney_trans", "Left kidney, short axis"),
        view("bladder_trans", "Bladder, transverse", required=False),
        view("bladder_sagittal", "Bladder, sagittal", required=False),
    ],
    impression=impression(
        _kidney_rules("right"),
        _kidney_rules("left"),
        rule("bladder_volume", "Distended bladder (over 500 mL).", gt=500),
        rule("ureteric_jets", "Left ureteric jet not seen.", equals="right_only"),
        rule("ureteric_jets", "Right ureteric jet not seen.", equals="left_only"),
        rule("ureteric_jets", "No ureteric jets seen.", equals="none"),
        otherwise="No hydronephrosis.",
    ),
)

TYPES = [BILIARY, RENAL]
