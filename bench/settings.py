"""Django settings for the benchmarks: the portal's own, plus a bare view to compare with.

Used as ``DJANGO_SETTINGS_MODULE=bench.settings`` by the benchmark's gunicorn, worker and
set-up code. Everything else still comes from the environment exactly as for the portal
(``DATABASE_URL``, ``REDIS_URL``, ``CLARIUS_*``...). ``DJANGO_DEBUG=1`` is set only so the
development secret key is used; ``DEBUG`` itself is then turned off again, as in
production (with it on, Django records every SQL query of every request).
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "1")

from portal.settings import *  # noqa: E402, F403

DEBUG = os.environ.get("BENCH_DJANGO_DEBUG", "") == "1"
ROOT_URLCONF = "bench.urls"
