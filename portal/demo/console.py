"""A quiet demo console: what ``manage.py run_demo`` does to its own output and to that of
the processes it starts (the Clarius sandbox, the web server, the worker).

By default the demo shows warnings and errors only: no request lines, no 404 notes
(a favicon per page), no django-q "Enqueued"/"Processed" lines, so the logins printed
last stay on screen. ``--verbose`` (or ``--verbosity 2``) shows them all again.
The processes read it from ``PORTAL_DEMO_VERBOSE`` through ``portal.demo.settings``.
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import time

VERBOSE_ENV = "PORTAL_DEMO_VERBOSE"
SETTINGS = "portal.demo.settings"

# Loggers that speak at INFO for every request or task, and what the quiet demo keeps.
QUIET_LEVELS = {
    "django.server": "ERROR",  # runserver's line per request (4xx lines are warnings)
    "django.request": "ERROR",  # "Not Found: /favicon.ico" and other 4xx warnings
    "django-q": "WARNING",  # "Enqueued …", "Processed …", the cluster's start and stop
    # Five lines per object sent to the demo's PACS (association, C-STORE, release).
    "pynetdicom": "WARNING",
    # "Step 2 - Fetching and parsing CSS" for each stylesheet a process loads.
    "weasyprint": "WARNING",
}


def quiet_logging(config: dict) -> dict:
    """A copy of a ``LOGGING`` dict with the chatty loggers raised to ``QUIET_LEVELS``;
    warnings and errors of everything else still show."""
    config = copy.deepcopy(config)
    loggers = config.setdefault("loggers", {})
    for name, level in QUIET_LEVELS.items():
        loggers[name] = {**loggers.get(name, {}), "level": level}
    return config


def quiet_this_process() -> None:
    """The same levels for an already configured process (run_demo itself)."""
    import logging

    for name, level in QUIET_LEVELS.items():
        logging.getLogger(name).setLevel(level)


def child_env(verbose: bool, base: dict | None = None) -> dict:
    env = dict(os.environ if base is None else base)
    env["DJANGO_SETTINGS_MODULE"] = SETTINGS
    env[VERBOSE_ENV] = "1" if verbose else "0"
    return env


def start(command: list[str], **kwargs) -> subprocess.Popen:
    """A child in a process group of its own: Ctrl-C in the terminal reaches run_demo
    only, which then stops each child in turn (and its own children with it)."""
    return subprocess.Popen(command, start_new_session=True, **kwargs)


def stop(process: subprocess.Popen, grace: float = 3.0) -> float:
    """Stop a child started by ``start``: SIGINT, then after ``grace`` seconds SIGTERM to
    its whole group, then SIGKILL. The seconds it took.

    The worker finishes the task in hand before it stops, and a task may wait minutes on
    Clarius; no work is lost by not waiting, as each row of work is retried once its
    lease ends (``portal.work``).
    """
    return stop_all([(process, grace)])


def stop_all(children: list[tuple[subprocess.Popen, float]]) -> float:
    """``stop`` for several children at once: all are interrupted together (in the
    order given), each then has its own grace. The seconds it took."""
    began = time.monotonic()
    for process, _ in children:
        if process.poll() is None:
            _signal_group(process, signal.SIGINT, group=False)
    for process, grace in children:
        if process.poll() is None:
            left = max(grace - (time.monotonic() - began), 0.05)
            for sig, wait in ((signal.SIGTERM, left), (signal.SIGKILL, 1.0)):
                try:
                    process.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    _signal_group(process, sig)
            process.wait()
        # Whatever the child left of its own (the worker's pool) goes with it.
        _signal_group(process, signal.SIGKILL)
    return time.monotonic() - began


def _signal_group(process: subprocess.Popen, sig: int, group: bool = True) -> None:
    try:
        if group:
            os.killpg(process.pid, sig)
        else:
            process.send_signal(sig)
    except (ProcessLookupError, PermissionError):
        pass
