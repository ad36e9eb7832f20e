"""First-trimester pelvic ultrasound: is there an intrauterine pregnancy, is it live,
and is there free fluid (ectopic pregnancy until shown otherwise)."""

from portal.worksheets.defaults.fields import (
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

SEEN = [["seen", "Seen"], ["not_seen", "Not seen"]]

OB_FIRST_TRIMESTER = exam_type(
    "ob_first_trimester",
    "First-trimester pelvic (OB)",
    applications=["OB/GYN", "Pelvic"],
    # Limited obstetric (transabdominal); 76817 when transvaginal.
    cpt=["76815", "76817"],
    sections=[
        indications(
            "Abdominal or pelvic pain in pregnancy",
            "Vaginal bleeding in pregnancy",
            "Hypotension or syncope in pregnancy",
            "Trauma in pregnancy",
            "Uncertain dates",
        ),
        section(
            "uterus",
            "Uterus",
            choice(
                "approach",
                "Approach",
                [
                    ["transabdominal", "Transabdominal"],
                    ["transvaginal", "Transvaginal"],
                    ["both", "Both"],
                ],
            ),
            choice(
                "iup",
                "Intrauterine pregnancy",
                [["yes", "Yes"], ["no", "No"], ["indeterminate", "Indeterminate"]],
                "yes",
                required=True,
            ),
            choice("yolk_sac", "Yolk sac", SEEN, "seen"),
            choice("fetal_pole", "Fetal pole", SEEN, "seen"),
            choice(
                "cardiac_activity",
                "Fetal cardiac activity",
                [["present", "Present"], ["absent", "Absent"]],
                "present",
            ),
            number("fhr", "Fetal heart rate", "bpm", 0, 300),
            number("crl", "Crown-rump length", "mm", 0, 100),
            number("msd", "Mean sac diameter", "mm", 0, 100),
            yesno("multiple", "Multiple gestation", False),
            number("myometrial_mantle", "Myometrial mantle (thinnest)", "mm", 0, 50),
        ),
        section(
            "adnexa",
            "Adnexa and free fluid",
            choice(
                "free_fluid",
                "Free fluid",
                [
                    ["none", "None"],
                    ["small", "Small, in the pelvis only"],
                    ["large", "Moderate to large, or in Morison's pouch"],
                ],
                "none",
                required=True,
            ),
            choice(
                "adnexa",
                "Adnexa",
                [
                    ["unremarkable", "Unremarkable"],
                    ["mass", "Adnexal mass or cyst"],
                    ["ectopic", "Extrauterine gestational sac or mass"],
                    ["not_seen", "Not seen"],
                ],
                "unremarkable",
            ),
        ),
    ],
    views=[
        view("uterus_long", "Uterus, long axis (with the cervix and the bladder)"),
        view("uterus_trans", "Uterus, short axis"),
        view("morisons", "Morison's pouch", required=False),
        view("right_adnexa", "Right adnexa", required=False),
        view("left_adnexa", "Left adnexa", required=False),
    ],
    impression=impression(
        rule("iup", "No intrauterine pregnancy seen: ectopic pregnancy not excluded.", equals="no"),
        rule(
            "iup",
            "Indeterminate for intrauterine pregnancy: ectopic pregnancy not excluded.",
            equals="indeterminate",
        ),
        rule("yolk_sac", "No yolk sac seen.", equals="not_seen"),
        rule("fetal_pole", "No fetal pole seen.", equals="not_seen"),
        rule("cardiac_activity", "No fetal cardiac activity seen.", equals="absent"),
        rule("fhr", "Fetal heart rate under 100 bpm.", lt=100),
        rule("fhr", "Fetal heart rate over 180 bpm.", gt=180),
        rule("multiple", "Multiple gestation.", equals=True),
        # A mantle under 5 mm raises an interstitial (cornual) ectopic pregnancy.
        rule(
            "myometrial_mantle",
            "Myometrial mantle under 5 mm: interstitial ectopic pregnancy not excluded.",
            lt=5,
        ),
        rule("free_fluid", "Small amount of free fluid in the pelvis.", equals="small"),
        rule(
            "free_fluid",
            "Moderate to large free fluid: consider a ruptured ectopic pregnancy.",
            equals="large",
        ),
        rule("adnexa", "Adnexal mass or cyst.", equals="mass"),
        rule(
            "adnexa", "Extrauterine gestational sac or mass: ectopic pregnancy.", equals="ectopic"
        ),
        rule("adnexa", "Adnexa not seen.", equals="not_seen"),
        otherwise="Intrauterine pregnancy; no free fluid.",
    ),
)

TYPES = [OB_FIRST_TRIMESTER]
