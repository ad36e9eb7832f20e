#!/usr/bin/env bash
# Build the portal for production: a virtualenv with the package installed (no extras:
# neither `dev` nor `sandbox`, so no numpy, werkzeug or test tools) and the static files
# collected. The Dockerfile's builder stage runs this;
# CI runs it too (scripts/check-deploy-recipe.sh). Safe to run again.
#
#   scripts/build.sh [VENV_DIR]        VENV_DIR defaults to /opt/venv
#
# Environment: PYTHON (interpreter that creates the venv, default python3),
# DJANGO_STATIC_ROOT (where static files are collected, default var/staticfiles).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"

venv="${1:-/opt/venv}"
python="${PYTHON:-python3}"
static_root="${DJANGO_STATIC_ROOT:-var/staticfiles}"

log() { printf '[build] %s\n' "$*"; }

if [ ! -x "$venv/bin/python" ]; then
    log "creating virtualenv $venv with $("$python" --version 2>&1)"
    "$python" -m venv "$venv"
else
    log "reusing virtualenv $venv"
fi

# setuptools builds in the source tree; a stale build/ would install files that were
# deleted since, so start from a clean one and tidy up afterwards.
cleanup_build() { rm -rf "$root/build" "$root"/*.egg-info; }
trap cleanup_build EXIT
cleanup_build

log "installing the portal (pip install ., no extras)"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "$root"

log "front-end packages (npm, runtime only)"
bash scripts/frontend.sh --production

log "collecting static files into $static_root"
DJANGO_DEBUG=0 DJANGO_SECRET_KEY=build-only DJANGO_STATIC_ROOT="$static_root" \
    "$venv/bin/python" manage.py collectstatic --noinput --verbosity 1

log "done: $venv"
