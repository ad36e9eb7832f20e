"""``Median``: an aggregate computed by the database, on PostgreSQL and on SQLite.

PostgreSQL has ``percentile_cont(0.5) WITHIN GROUP (ORDER BY x)`` (numbers and
intervals alike). SQLite has no median, so every SQLite connection gets a small
``portal_median`` aggregate when it opens; the rows still never leave the query.
"""

import statistics

from django.db.backends.signals import connection_created
from django.db.models import Aggregate


class Median(Aggregate):
    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(
            compiler,
            connection,
            function="PORTAL_MEDIAN",
            template="%(function)s(%(expressions)s)",
            **extra_context,
        )


class _SQLiteMedian:
    def __init__(self):
        self.values = []

    def step(self, value):
        if value is not None:
            self.values.append(value)

    def finalize(self):
        return statistics.median(self.values) if self.values else None


def register_sqlite_median(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("PORTAL_MEDIAN", 1, _SQLiteMedian)


connection_created.connect(register_sqlite_median, dispatch_uid="portal_sqlite_median")
