"""``integrations.clarius.api`` is a plain HTTP client: importing it needs no Django."""

import subprocess
import sys
from pathlib import Path

import integrations.clarius.api as api

ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import pkgutil, sys
sys.modules["django"] = None  # any import of django (or django.*) now fails
import integrations.clarius.api as api
names = sorted(m.name for m in pkgutil.iter_modules(api.__path__))
for name in names:
    __import__(f"integrations.clarius.api.{name}")
leaked = sorted(m for m in sys.modules if m.startswith("django."))
assert not leaked, leaked
# Of the project, only the api itself and two pure-Python helpers of the core.
allowed = {"portal", "portal.text", "portal.safejson", "integrations", "integrations.clarius"}
project = [m for m in sys.modules if m.split(".")[0] in ("portal", "integrations")]
outside = sorted(
    m for m in project if m not in allowed and not m.startswith("integrations.clarius.api")
)
assert not outside, outside
print(",".join(names))
"""


def test_every_api_module_imports_without_django():
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    imported = set(result.stdout.strip().split(","))
    expected = {p.stem for p in Path(api.__path__[0]).glob("*.py") if p.stem != "__init__"}
    assert imported == expected
