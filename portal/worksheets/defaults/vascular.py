"""Abdominal aorta (AAA) and lower-extremity deep vein thrombosis (DVT)."""

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
    view,
    yesno,
)

# Outer wall to outer wall, in cm: an aorta over 3 cm is aneurysmal.
SEGMENTS = [
    ("proximal", "Proximal (at the coeliac trunk)"),
    ("mid", "Mid (at the renal arteries)"),
    ("distal", "Distal (above the bifurcation)"),
]

AORTA = exam_type(
    "aorta",
    "Abdominal aorta (AAA)",
    # Abdomen is left unclaimed: the same preset serves FAST, biliary and renal exams.
    applications=[],
    cpt=["76775"],
    sections=[
        indications(
            "Abdominal pain",
            "Back or flank pain",
            "Syncope",
            "Hypotension",
            "Pulsatile abdominal mass",
        ),
        section(
            "diameters",
            "Maximal diameter (outer wall to outer wall)",
            *[number(f"{code}_diameter", label, "cm", 0, 15) for code, label in SEGMENTS],
            number("iliac_diameter", "Common iliac arteries (the larger)", "cm", 0, 10),
        ),
        section(
            "findings",
            "Findings",
            choice(
                "aneurysm", "Abdominal aortic aneurysm", PRESENT_ABSENT, "absent", required=True
            ),
            choice("dissection_flap", "Intimal (dissection) flap", PRESENT_ABSENT, "absent"),
            choice("intraluminal_thrombus", "Intraluminal thrombus", PRESENT_ABSENT, "absent"),
            choice("free_fluid", "Free fluid in the abdomen", PRESENT_ABSENT, "absent"),
        ),
    ],
    views=[
        view("proximal_trans", "Proximal aorta, transverse"),
        view("mid_trans", "Mid aorta, transverse"),
        view("distal_trans", "Distal aorta, transverse"),
        view("longitudinal", "Aorta, longitudinal"),
        view("iliacs", "Iliac bifurcation", required=False),
    ],
    impression=impression(
        rule("aneurysm", "Abdominal aortic aneurysm.", equals="present"),
        rule(
            "aneurysm",
            "Indeterminate for abdominal aortic aneurysm (aorta not fully seen).",
            equals="indeterminate",
        ),
        [
            rule(f"{code}_diameter", f"{code.capitalize()} aorta over 3 cm.", gt=3)
            for code, _ in SEGMENTS
        ],
        rule("iliac_diameter", "Common iliac artery over 1.5 cm (iliac aneurysm).", gt=1.5),
        rule("dissection_flap", "Intimal flap seen: aortic dissection.", equals="present"),
        rule("dissection_flap", "Indeterminate for an intimal flap.", equals="indeterminate"),
        rule("intraluminal_thrombus", "Intraluminal thrombus.", equals="present"),
        rule(
            "intraluminal_thrombus",
            "Indeterminate for intraluminal thrombus.",
            equals="indeterminate",
        ),
        rule("free_fluid", "Free fluid in the abdomen.", equals="present"),
        rule("free_fluid", "Indeterminate for free fluid in the abdomen.", equals="indeterminate"),
        otherwise="No abdominal aortic aneurysm.",
    ),
)

COMPRESSIBILITY = [
    ["compressible", "Fully compressible"],
    ["non_compressible", "Not (fully) compressible"],
    ["indeterminate", "Indeterminate (poorly seen)"],
]
# Two-region compression: the groin and the popliteal fossa.
VEINS = [
    ("cfv", "Common femoral vein"),
    ("sfj", "Saphenofemoral junction"),
    ("fv", "Femoral vein (proximal thigh)"),
    ("popliteal", "Popliteal vein"),
]


def _leg(side: str) -> dict:
    # Per-vein findings are optional: a one-leg exam answers "Legs examined" and records
    # the other leg's views as not obtained.
    return section(
        side,
        f"{side.capitalize()} leg",
        *[
            choice(f"{side}_{code}", label, COMPRESSIBILITY, "compressible")
            for code, label in VEINS
        ],
        yesno(f"{side}_thrombus", "Thrombus seen", False),
    )


def _leg_rules(side: str) -> list[dict]:
    rules = []
    for code, label in VEINS:
        where = f"{side} {label[0].lower()}{label[1:]}"
        rules.append(
            rule(
                f"{side}_{code}",
                f"Non-compressible {where}: deep vein thrombosis.",
                equals="non_compressible",
            )
        )
        rules.append(
            rule(
                f"{side}_{code}",
                f"{where[0].upper()}{where[1:]} poorly seen: deep vein thrombosis not excluded.",
                equals="indeterminate",
            )
        )
    rules.append(rule(f"{side}_thrombus", f"Thrombus seen in the {side} leg.", equals=True))
    return rules


DVT = exam_type(
    "dvt",
    "Lower extremity DVT",
    # Vascular is left unclaimed: the same preset serves vascular access.
    applications=[],
    cpt=["93971"],
    sections=[
        indications(
            "Leg swelling",
            "Leg pain",
            "Suspected pulmonary embolism",
        ),
        section("legs", "Legs", choice("legs", "Legs examined", SIDES_BOTH, required=True)),
        _leg("right"),
        _leg("left"),
    ],
    views=[
        view(f"{side}_{code}", f"{side.capitalize()} {label[0].lower()}{label[1:]}")
        for side in ("right", "left")
        for code, label in VEINS
    ],
    impression=impression(
        _leg_rules("right"),
        _leg_rules("left"),
        otherwise="The veins examined are fully compressible: no deep vein thrombosis seen.",
    ),
)

TYPES = [AORTA, DVT]
