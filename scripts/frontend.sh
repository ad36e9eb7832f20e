#!/usr/bin/env bash
# The portal's front-end packages, from the npm registry at the versions package-lock.json
# pins. Runtime packages are copied into static/vendor/ (served by the portal itself:
# hospitals run closed networks, so nothing comes from a CDN); axe-core, a development
# tool, stays in node_modules/ for the browser tests. Installs Node.js and npm from Debian
# when run as root without them. `make install` runs it; scripts/build.sh runs it with
# --production (runtime packages only).
#
#   scripts/frontend.sh [--production]
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

production=0
[ "${1:-}" = "--production" ] && production=1

log() { printf '[frontend] %s\n' "$*"; }

if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing nodejs and npm from Debian"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
    else
        echo "frontend: npm not found; install Node.js and npm (Debian: apt-get install nodejs npm)" >&2
        exit 1
    fi
fi

# npm ci starts from an empty node_modules each time: skip it while the lock is unchanged.
stamp="node_modules/.portal-stamp"
want="$(sha256sum package-lock.json | cut -d' ' -f1)-$production"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    args=(ci --no-audit --no-fund --loglevel=error)
    [ "$production" = 1 ] && args+=(--omit=dev)
    log "npm ${args[*]}"
    npm "${args[@]}"
    echo "$want" >"$stamp"
fi

# Runtime packages: the built file and its licence, nothing else.
vendor="static/vendor"
copy() { # package, file in the package, destination folder under static/vendor
    mkdir -p "$vendor/$3"
    cp "node_modules/$1/$2" "$vendor/$3/"
    local licence
    for licence in LICENSE LICENSE.md MIT-License.txt; do
        if [ -f "node_modules/$1/$licence" ]; then
            cp "node_modules/$1/$licence" "$vendor/$3/LICENSE"
            break
        fi
    done
}
copy @panzoom/panzoom dist/panzoom.min.js panzoom
