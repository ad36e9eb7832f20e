#!/usr/bin/env bash
# Start the background worker (django-q2's cluster). It does not migrate: start it
# once the web process has (compose waits for web to be healthy).
# VENV, if set, is a virtualenv whose bin/ is put first on PATH.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ -n "${VENV:-}" ]; then
    export PATH="$VENV/bin:$PATH"
fi

exec python manage.py qcluster
