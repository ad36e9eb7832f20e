"""The portal in this process: Django set up for a benchmark, and migrated."""

from __future__ import annotations

import os
import sys
import warnings

from bench.lib.processes import PORTAL_VARS


def in_process(database_url: str, **environ: str) -> None:
    """``portal.settings`` on ``database_url``, for requests through Django's test ``Client``.

    The development secret key and storage (``DJANGO_DEBUG=1``), but ``DEBUG`` itself off
    again, as in production (with it on, Django keeps every query in memory); no Redis.
    """
    os.environ["DATABASE_URL"] = database_url
    os.environ.update(environ)
    os.environ["DJANGO_DEBUG"] = "1"
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver,127.0.0.1,localhost"
    os.environ["DJANGO_SETTINGS_MODULE"] = "portal.settings"
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_LOG_LEVEL", "WARNING")
    # Static files are served from the finders here; there is no collectstatic output.
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False


def with_env(env: dict) -> None:
    """Django in this process with exactly the portal variables of ``env`` (the same
    environment as the benchmark's servers), migrated."""
    for key in [k for k in os.environ if k.startswith(PORTAL_VARS)]:
        del os.environ[key]
    os.environ.update(env)
    import django

    django.setup()
    migrate()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def close_connections() -> None:
    """Close Django's database connections, if Django was set up in this process."""
    if "django.db" in sys.modules and os.environ.get("DJANGO_SETTINGS_MODULE"):
        from django.db import connections

        connections.close_all()
