"""Running the portal in a child process, with an environment of the test's choosing.

Settings are read once per process, so anything that depends on environment variables
at start-up (malformed values, production mode, an unreachable database) is tested in a
fresh interpreter.
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Variables a developer's shell or CI may export that would leak into the child.
_PORTAL_VARS = ("DATABASE_URL", "REDIS_URL", "DJANGO_", "PORTAL_", "CLARIUS_")


def clean_env(tmp_path, **overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PORTAL_VARS)}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DJANGO_DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'child.sqlite3'}",
        PYTHONPATH=str(ROOT),
    )
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_manage(env, *args, input_text=None, timeout=120):
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        input=input_text,
        timeout=timeout,
    )


GET_SNIPPET = """
import json, sys, django
django.setup()
from django.test import Client
response = Client(SERVER_NAME="127.0.0.1").get(sys.argv[1])
print(json.dumps({"status": response.status_code, "body": response.content.decode()}))
"""


def get_in_child(env, path, timeout=60):
    """GET ``path`` through the Django test client in a child process; (status, body)."""
    import json

    result = subprocess.run(
        [sys.executable, "-c", GET_SNIPPET, path],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return data["status"], data["body"]
