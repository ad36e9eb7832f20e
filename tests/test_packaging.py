"""The production build carries the portal only: no Clarius sandbox, none of its packages.

The sandbox (``clarius_sandbox/``) is a development tool. Its own dependencies live in
the ``sandbox`` extra, the wheel leaves the package out, and ``.dockerignore`` keeps it
out of the image's build context. ``scripts/check-deploy-recipe.sh`` checks a real build;
this checks the recipe's files, fast.
"""

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SANDBOX_ONLY = {"numpy", "werkzeug"}
DEV_TOOLS = {"pytest", "pytest-django", "playwright", "hypothesis", "ruff", "pypdf", "pypdfium2"}


def names(requirements):
    """``"psycopg[binary]>=3.2,<4"`` → ``"psycopg"`` (normalised, PEP 503)."""
    return {
        re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r)[0]).lower()
        for r in requirements
    }


def top_level_imports(path):
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def shipped_python_files():
    for package in ("portal", "integrations"):
        yield from (ROOT / package).rglob("*.py")


def test_production_dependencies_have_no_sandbox_or_dev_package():
    production = names(PYPROJECT["project"]["dependencies"])
    assert not production & SANDBOX_ONLY
    assert not production & DEV_TOOLS


def test_the_sandbox_extra_has_the_sandbox_only_packages():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert names(extras["sandbox"]) >= SANDBOX_ONLY
    assert names(extras["dev"]) >= DEV_TOOLS


def test_make_install_installs_the_sandbox_extra():
    makefile = (ROOT / "Makefile").read_text()
    installs = re.findall(r"pip install [^\n]*-e '\.\[([a-z,]+)\]'", makefile)
    assert installs, "Makefile: no editable install of the portal"
    assert all({"dev", "sandbox"} <= set(extras.split(",")) for extras in installs)


def test_the_sandbox_package_is_left_out_of_the_wheel():
    find = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    assert not any(p.startswith("clarius") for p in find["include"])
    assert "clarius_sandbox*" in find["exclude"]


@pytest.mark.parametrize("module", sorted(SANDBOX_ONLY | {"clarius_sandbox"}))
def test_shipped_code_never_imports_the_sandbox_or_its_packages(module):
    importers = [
        str(path.relative_to(ROOT))
        for path in shipped_python_files()
        if module in top_level_imports(path)
    ]
    assert importers == []


def test_the_sandbox_extra_is_only_what_the_portal_does_not_import():
    # pillow, av and pydicom serve the sandbox too, but the portal needs them: they stay.
    shipped = set().union(*(top_level_imports(p) for p in shipped_python_files()))
    assert {"PIL", "av", "pydicom"} <= shipped
    production = names(PYPROJECT["project"]["dependencies"])
    assert {"pillow", "av", "pydicom"} <= production


def test_dockerignore_keeps_the_sandbox_and_tests_out_of_the_image():
    patterns = {
        line.strip().strip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"clarius_sandbox", "tests", "bench"} <= patterns
    assert not any(p.startswith("!") for p in patterns), "an exception could let them back in"


def test_the_production_build_installs_no_extras():
    build = (ROOT / "scripts" / "build.sh").read_text()
    installs = [line for line in build.splitlines() if "pip install" in line and "$root" in line]
    assert installs
    assert not any("[" in line for line in installs)


def test_the_report_pdfs_system_packages_are_installed_everywhere():
    # Pango and the fonts of every script: make install, CI and the image install the same.
    script = (ROOT / "scripts" / "system-packages.sh").read_text()
    listed = re.search(r"^packages=\((.*?)^\)", script, re.S | re.M)[1]
    packages = {word for line in listed.splitlines() for word in line.split("#")[0].split() if word}
    assert {"libpango-1.0-0", "fonts-droid-fallback", "fonts-lohit-deva"} <= packages
    for recipe in (".ci/run", "Dockerfile"):
        text = (ROOT / recipe).read_text()
        assert {p for p in packages if p not in text} == set(), recipe
    assert "scripts/system-packages.sh" in (ROOT / "Makefile").read_text()
