"""The worklist's patient sort key and the dashboard's tallies, kept by the database.

``Exam.patient_sort``, ``ExamTally`` and ``ExamHour`` are written by triggers on the exam
and patient tables, never by Python: every write passes through them whichever way it is
made (the ORM, ``update()``, a cascade, raw SQL) and in the same transaction, so the
counts cannot drift from the rows. Installed by migration ``exams.0013``; on SQLite a
later migration that rebuilds the exam table would drop them, so ``ensure_triggers``
(run after every ``migrate``) creates any that is missing.

PostgreSQL note: a tally row is updated in place, so two transactions changing exams of
the same institution, operator, reviewer and state wait for each other's commit (short
transactions; the ORM's saves are).
"""

# The SQL below is built from this module's constants only (no value from outside).
# ruff: noqa: S608, E501

from django.db.models.signals import post_migrate
from django.dispatch import receiver

KEY = "lower(trim(coalesce({p}.last_name, '') || ' ' || coalesce({p}.first_name, '') || ' ' || coalesce({p}.animal_name, '')))"
SORT_OF = (
    "coalesce((SELECT " + KEY.format(p="p") + " FROM exams_patient p WHERE p.exam_id = {exam}), '')"
)
TALLY_KEY = "(institution_id, operator_id, reviewer_id, review_state, status)"
HOUR_KEY = "(institution_id, operator_id, hour)"


def _tally(row, sign, *, hour):
    return (
        "INSERT INTO exams_examtally (institution_id, operator_id, reviewer_id, review_state, status, n) "
        f"VALUES ({row}.institution_id, coalesce({row}.operator_id, 0), coalesce({row}.reviewer_id, 0), "
        f"{row}.review_state, {row}.status, {sign}1) "
        f"ON CONFLICT {TALLY_KEY} DO UPDATE SET n = exams_examtally.n {sign} 1;"
    )


def _hours(row, sign, hour):
    """The institution's row (operator 0) and the operator's, if any."""
    insert = (
        "INSERT INTO exams_examhour (institution_id, operator_id, hour, n) "
        f"SELECT {row}.institution_id, o, {hour}, {sign}1 FROM (SELECT 0 AS o UNION ALL "
        f"SELECT {row}.operator_id WHERE {row}.operator_id IS NOT NULL) AS ops WHERE true "
        f"ON CONFLICT {HOUR_KEY} DO UPDATE SET n = exams_examhour.n {sign} 1;"
    )
    return insert


TALLY_CHANGED = (
    "OLD.institution_id IS NOT NEW.institution_id OR OLD.operator_id IS NOT NEW.operator_id "
    "OR OLD.reviewer_id IS NOT NEW.reviewer_id OR OLD.review_state IS NOT NEW.review_state "
    "OR OLD.status IS NOT NEW.status"
)
HOUR_CHANGED = (
    "OLD.institution_id IS NOT NEW.institution_id OR OLD.operator_id IS NOT NEW.operator_id "
    "OR OLD.first_submitted_at IS NOT NEW.first_submitted_at"
)
NAMES_CHANGED = (
    "OLD.exam_id IS NOT NEW.exam_id OR OLD.last_name IS NOT NEW.last_name "
    "OR OLD.first_name IS NOT NEW.first_name OR OLD.animal_name IS NOT NEW.animal_name"
)

SQLITE_HOUR = "strftime('%Y-%m-%d %H:00:00', {row}.first_submitted_at)"
SQLITE = [
    f"""CREATE TRIGGER exams_exam_tally_insert AFTER INSERT ON exams_exam BEGIN
        {_tally("NEW", "+", hour=None)}
        {_hours("NEW", "+", SQLITE_HOUR.format(row="NEW"))}
    END""",
    f"""CREATE TRIGGER exams_exam_tally_delete AFTER DELETE ON exams_exam BEGIN
        {_tally("OLD", "-", hour=None)}
        {_hours("OLD", "-", SQLITE_HOUR.format(row="OLD"))}
    END""",
    f"""CREATE TRIGGER exams_exam_tally_update AFTER UPDATE ON exams_exam
    WHEN {TALLY_CHANGED} BEGIN
        {_tally("OLD", "-", hour=None)}
        {_tally("NEW", "+", hour=None)}
    END""",
    f"""CREATE TRIGGER exams_exam_hour_update AFTER UPDATE ON exams_exam
    WHEN {HOUR_CHANGED} BEGIN
        {_hours("OLD", "-", SQLITE_HOUR.format(row="OLD"))}
        {_hours("NEW", "+", SQLITE_HOUR.format(row="NEW"))}
    END""",
    # A save of an exam instance read before its patient changed writes its stale key:
    # put the patient's back.
    f"""CREATE TRIGGER exams_exam_patient_sort AFTER UPDATE OF patient_sort ON exams_exam
    WHEN NEW.patient_sort IS NOT {SORT_OF.format(exam="NEW.id")} BEGIN
        UPDATE exams_exam SET patient_sort = {SORT_OF.format(exam="NEW.id")} WHERE id = NEW.id;
    END""",
    f"""CREATE TRIGGER exams_patient_sort_insert AFTER INSERT ON exams_patient BEGIN
        UPDATE exams_exam SET patient_sort = {KEY.format(p="NEW")} WHERE id = NEW.exam_id;
    END""",
    f"""CREATE TRIGGER exams_patient_sort_update AFTER UPDATE ON exams_patient
    WHEN {NAMES_CHANGED} BEGIN
        UPDATE exams_exam SET patient_sort = '' WHERE id = OLD.exam_id AND OLD.exam_id IS NOT NEW.exam_id;
        UPDATE exams_exam SET patient_sort = {KEY.format(p="NEW")} WHERE id = NEW.exam_id;
    END""",
    """CREATE TRIGGER exams_patient_sort_delete AFTER DELETE ON exams_patient BEGIN
        UPDATE exams_exam SET patient_sort = '' WHERE id = OLD.exam_id;
    END""",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in [
        "exams_exam_tally_insert",
        "exams_exam_tally_delete",
        "exams_exam_tally_update",
        "exams_exam_hour_update",
        "exams_exam_patient_sort",
        "exams_patient_sort_insert",
        "exams_patient_sort_update",
        "exams_patient_sort_delete",
    ]
]

PG_HOUR = "(date_trunc('hour', {row}.first_submitted_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"


def PG_DISTINCT(text):  # noqa: N802
    return text.replace("IS NOT", "IS DISTINCT FROM")


POSTGRES = [
    f"""CREATE FUNCTION exams_exam_tallies() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {_tally("NEW", "+", hour=None)}
            {_hours("NEW", "+", PG_HOUR.format(row="NEW"))}
            RETURN NULL;
        END IF;
        IF TG_OP = 'DELETE' THEN
            {_tally("OLD", "-", hour=None)}
            {_hours("OLD", "-", PG_HOUR.format(row="OLD"))}
            RETURN NULL;
        END IF;
        IF {PG_DISTINCT(TALLY_CHANGED)} THEN
            {_tally("OLD", "-", hour=None)}
            {_tally("NEW", "+", hour=None)}
        END IF;
        IF {PG_DISTINCT(HOUR_CHANGED)} THEN
            {_hours("OLD", "-", PG_HOUR.format(row="OLD"))}
            {_hours("NEW", "+", PG_HOUR.format(row="NEW"))}
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER exams_exam_tallies AFTER INSERT OR UPDATE OR DELETE ON exams_exam
    FOR EACH ROW EXECUTE FUNCTION exams_exam_tallies()""",
    # Every write of an exam row takes its patient's key (a stale instance's is ignored).
    f"""CREATE FUNCTION exams_exam_patient_sort() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            NEW.patient_sort := '';
        ELSE
            NEW.patient_sort := {SORT_OF.format(exam="NEW.id")};
        END IF;
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER exams_exam_patient_sort BEFORE INSERT OR UPDATE ON exams_exam
    FOR EACH ROW EXECUTE FUNCTION exams_exam_patient_sort()""",
    """CREATE FUNCTION exams_patient_sort() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            UPDATE exams_exam SET patient_sort = '' WHERE id = OLD.exam_id;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            UPDATE exams_exam SET patient_sort = '' WHERE id = NEW.exam_id;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER exams_patient_sort_insert AFTER INSERT OR DELETE ON exams_patient
    FOR EACH ROW EXECUTE FUNCTION exams_patient_sort()""",
    f"""CREATE TRIGGER exams_patient_sort_update AFTER UPDATE ON exams_patient
    FOR EACH ROW WHEN ({PG_DISTINCT(NAMES_CHANGED)}) EXECUTE FUNCTION exams_patient_sort()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS exams_patient_sort_update ON exams_patient",
    "DROP TRIGGER IF EXISTS exams_patient_sort_insert ON exams_patient",
    "DROP FUNCTION IF EXISTS exams_patient_sort()",
    "DROP TRIGGER IF EXISTS exams_exam_patient_sort ON exams_exam",
    "DROP FUNCTION IF EXISTS exams_exam_patient_sort()",
    "DROP TRIGGER IF EXISTS exams_exam_tallies ON exams_exam",
    "DROP FUNCTION IF EXISTS exams_exam_tallies()",
]

BACKFILL = {
    "sqlite": SQLITE_HOUR.format(row="e"),
    "postgresql": PG_HOUR.format(row="e"),
}


def install(apps, schema_editor):
    """The triggers, then the keys and tallies of the exams already there."""
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": SQLITE, "postgresql": POSTGRES}[vendor]
    for statement in statements:
        schema_editor.execute(statement, params=None)
    for statement in backfill(vendor):
        schema_editor.execute(statement, params=None)


def backfill(vendor: str) -> list[str]:
    """The statements that set every exam's patient sort key and rebuild the tallies from
    the exam rows (after the triggers were off for a bulk load, or at installation)."""
    hour = BACKFILL[vendor]
    return [
        f"UPDATE exams_exam SET patient_sort = {SORT_OF.format(exam='exams_exam.id')} "
        f"WHERE patient_sort <> {SORT_OF.format(exam='exams_exam.id')}",
        "DELETE FROM exams_examtally",
        "DELETE FROM exams_examhour",
        "INSERT INTO exams_examtally (institution_id, operator_id, reviewer_id, review_state, status, n) "
        "SELECT institution_id, coalesce(operator_id, 0), coalesce(reviewer_id, 0), review_state, status, count(*) "
        "FROM exams_exam GROUP BY 1, 2, 3, 4, 5",
        "INSERT INTO exams_examhour (institution_id, operator_id, hour, n) "
        f"SELECT institution_id, 0, {hour}, count(*) FROM exams_exam e GROUP BY 1, 2, 3 "
        "UNION ALL "
        f"SELECT institution_id, operator_id, {hour}, count(*) FROM exams_exam e "
        "WHERE operator_id IS NOT NULL GROUP BY 1, 2, 3",
    ]


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}[vendor]:
        schema_editor.execute(statement, params=None)


@receiver(post_migrate, dispatch_uid="exams_ensure_triggers")
def ensure_triggers(sender=None, using="default", **kwargs):
    """``post_migrate``: on SQLite, create any trigger a table rebuild dropped."""
    from django.db import connections

    connection = connections[using]
    if getattr(sender, "label", "exams") != "exams" or connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'exams_examtally'"
        )
        if cursor.fetchone() is None:
            return  # not migrated this far
        for statement in SQLITE:
            cursor.execute(statement.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS", 1))
