#!/bin/sh
# Run by the official nginx image's entrypoint before nginx starts (compose.yaml mounts
# this one file into /docker-entrypoint.d/, beside the image's own scripts).
#
# The portal writes exam media as uid 10001 (the portal image's "portal" user) with
# owner-only permissions, and nginx sends those files itself (X-Accel-Redirect), so its
# worker processes run as that user: nginx.conf.template's `user`, PORTAL_NGINX_USER.
set -eu

uid="${PORTAL_MEDIA_UID:-10001}"
if ! getent passwd portal >/dev/null; then
    groupadd --system --gid "$uid" portal
    useradd --system --uid "$uid" --gid portal --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin portal
    echo "$0: created user portal (uid $uid) for nginx's worker processes"
fi
