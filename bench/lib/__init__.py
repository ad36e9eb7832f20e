"""What the benchmarks share; each ``bench/bench_*.py`` is a short script on top of it.

* ``pg``: a throwaway PostgreSQL server (``TempPostgres``);
* ``processes``: child processes in their own session (``Child``), a clean environment,
  Redis and gunicorn started and awaited, free ports, signals turned into teardown;
* ``load``: HTTP load generators (``wrk`` with a Lua script, or Python processes) posting
  a JSON body with per-request UUIDs, rounds combined;
* ``meters``: CPU seconds by process kind (``/proc``), peak RSS growth;
* ``report``: percentiles, fixed-width tables, a prefixed log;
* ``django_setup``: the portal in this process (Django set up, migrated);
* ``seed``: institutions, members and exams, one by one or 100,000 at once by SQL;
* ``pages``: pages of exams at 100,000 exams (the worklist's and the API's), timed
  in-process against their own SQL on bare psycopg;
* ``clarius``: the Clarius side of the webhook benchmark: linked users, the sandbox's
  settings, receipts, queued tasks and exams as they become ready.

In the library, only ``seed`` and ``clarius`` import the project's modules (inside
functions, after Django is set up); ``bench/README.md`` lists every project import of
the benchmarks, for when the portal's modules move.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the repository


class BenchError(RuntimeError):
    """The run itself failed (a process did not start, data went missing...)."""
