"""Soft tissue / musculoskeletal and ocular ultrasound."""

from portal.worksheets.defaults.fields import (
    PRESENT_ABSENT,
    SIDES_BOTH,
    choice,
    exam_type,
    impression,
    indications,
    number,
    rule,
    section,
    text,
    view,
)


def _finding_rules(field: str, present: str, unclear: str) -> list[dict]:
    return [
        rule(field, present, equals="present"),
        rule(field, unclear, equals="indeterminate"),
    ]


SOFT_TISSUE = exam_type(
    "soft_tissue",
    "Soft tissue / musculoskeletal",
    applications=["MSK", "Superficial"],
    cpt=["76882"],
    sections=[
        indications(
            "Swelling or erythema (cellulitis or abscess)",
            "Suspected foreign body",
            "Joint pain or swelling",
            "Suspected tendon injury",
            "Suspected fracture",
        ),
        section(
            "site",
            "Site",
            text("site", "Site examined (side and region)", required=True, max_length=200),
        ),
        section(
            "soft_tissue",
            "Soft tissue",
            choice(
                "cobblestoning", "Subcutaneous oedema (cobblestoning)", PRESENT_ABSENT, "absent"
            ),
            choice("abscess", "Fluid collection (abscess)", PRESENT_ABSENT, "absent"),
            number("abscess_size", "Collection, largest dimension", "cm", 0, 50),
            number("abscess_depth", "Collection, depth from the skin", "cm", 0, 20),
            choice("foreign_body", "Foreign body", PRESENT_ABSENT, "absent"),
            number("foreign_body_depth", "Foreign body, depth from the skin", "cm", 0, 20),
        ),
        section(
            "musculoskeletal",
            "Musculoskeletal",
            choice("joint_effusion", "Joint effusion", PRESENT_ABSENT, "absent"),
            choice(
                "tendon",
                "Tendon",
                [
                    ["intact", "Intact"],
                    ["partial_tear", "Partial tear"],
                    ["complete_tear", "Complete tear"],
                    ["indeterminate", "Indeterminate"],
                ],
                "intact",
            ),
            choice("cortex", "Cortical disruption (fracture)", PRESENT_ABSENT, "absent"),
        ),
    ],
    views=[
        view("site_long", "Area of concern, long axis"),
        view("site_trans", "Area of concern, short axis"),
        view("comparison", "Other side, for comparison", required=False),
    ],
    impression=impression(
        _finding_rules(
            "cobblestoning",
            "Subcutaneous oedema (cobblestoning), as in cellulitis.",
            "Indeterminate for subcutaneous oedema.",
        ),
        _finding_rules(
            "abscess", "Fluid collection: abscess.", "Indeterminate for a fluid collection."
        ),
        _finding_rules("foreign_body", "Foreign body seen.", "Indeterminate for a foreign body."),
        _finding_rules("joint_effusion", "Joint effusion.", "Indeterminate for a joint effusion."),
        rule("tendon", "Partial tendon tear.", equals="partial_tear"),
        rule("tendon", "Complete tendon tear.", equals="complete_tear"),
        rule("tendon", "Tendon integrity indeterminate.", equals="indeterminate"),
        _finding_rules(
            "cortex", "Cortical disruption: fracture.", "Indeterminate for cortical disruption."
        ),
        otherwise="No abnormality seen at the site examined.",
    ),
)

VITREOUS = [
    ["normal", "Clear"],
    ["haemorrhage", "Haemorrhage"],
    ["detachment", "Posterior vitreous detachment"],
]
PUPIL = [["reactive", "Reactive"], ["sluggish", "Sluggish"], ["non_reactive", "Not reactive"]]


def _eye(side: str) -> dict:
    # Per-eye findings are optional: a one-eye exam answers "Eyes examined" and records
    # the other eye's views as not obtained.
    return section(
        f"{side}_eye",
        f"{side.capitalize()} eye",
        choice(f"{side}_retinal_detachment", "Retinal detachment", PRESENT_ABSENT, "absent"),
        choice(f"{side}_vitreous", "Vitreous", VITREOUS, "normal"),
        choice(
            f"{side}_lens", "Lens", [["normal", "In place"], ["dislocated", "Dislocated"]], "normal"
        ),
        choice(
            f"{side}_globe",
            "Globe",
            [["intact", "Intact contour"], ["rupture", "Abnormal contour (suspected rupture)"]],
            "intact",
        ),
        choice(f"{side}_foreign_body", "Intraocular foreign body", PRESENT_ABSENT, "absent"),
        choice(f"{side}_pupil", "Pupillary light response", PUPIL, "reactive"),
        number(f"{side}_onsd", "Optic nerve sheath diameter (3 mm behind the globe)", "mm", 0, 15),
    )


def _eye_rules(side: str) -> list[dict]:
    s = side
    return [
        rule(f"{s}_retinal_detachment", f"Retinal detachment in the {s} eye.", equals="present"),
        rule(
            f"{s}_retinal_detachment",
            f"Indeterminate for retinal detachment in the {s} eye.",
            equals="indeterminate",
        ),
        rule(f"{s}_vitreous", f"Vitreous haemorrhage in the {s} eye.", equals="haemorrhage"),
        rule(
            f"{s}_vitreous", f"Posterior vitreous detachment in the {s} eye.", equals="detachment"
        ),
        rule(f"{s}_lens", f"Lens dislocation in the {s} eye.", equals="dislocated"),
        rule(
            f"{s}_globe",
            f"Abnormal contour of the {s} globe: globe rupture suspected.",
            equals="rupture",
        ),
        rule(f"{s}_foreign_body", f"Intraocular foreign body in the {s} eye.", equals="present"),
        rule(
            f"{s}_foreign_body",
            f"Indeterminate for an intraocular foreign body in the {s} eye.",
            equals="indeterminate",
        ),
        rule(f"{s}_pupil", f"Sluggish {s} pupillary light response.", equals="sluggish"),
        rule(f"{s}_pupil", f"No {s} pupillary light response.", equals="non_reactive"),
        rule(
            f"{s}_onsd",
            f"{s.capitalize()} optic nerve sheath over 5 mm: raised "
            "intracranial pressure possible.",
            gt=5,
        ),
    ]


OCULAR = exam_type(
    "ocular",
    "Ocular",
    applications=["Ocular"],
    cpt=["76512"],
    sections=[
        indications(
            "Vision loss or change",
            "Flashes or floaters",
            "Eye trauma",
            "Eye pain",
            "Suspected raised intracranial pressure",
        ),
        section("eyes", "Eyes", choice("eyes", "Eyes examined", SIDES_BOTH, required=True)),
        _eye("right"),
        _eye("left"),
    ],
    views=[
        view("right_transverse", "Right eye, transverse"),
        view("right_sagittal", "Right eye, sagittal"),
        view("right_optic_nerve", "Right optic nerve sheath", required=False),
        view("left_transverse", "Left eye, transverse"),
        view("left_sagittal", "Left eye, sagittal"),
        view("left_optic_nerve", "Left optic nerve sheath", required=False),
    ],
    impression=impression(
        _eye_rules("right"),
        _eye_rules("left"),
        otherwise="No retinal detachment, vitreous haemorrhage or lens dislocation in the "
        "eyes examined.",
    ),
)

TYPES = [SOFT_TISSUE, OCULAR]
