"""Run the sandbox in the foreground: ``python -m clarius_sandbox --help``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .server import Sandbox
from .service_api import validate_settings

SEED_NAMES = ["Dr. Ada Okafor", "Dr. Noah Novak", "Dr. Maya Lindqvist", "Dr. Liam Moreau"]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m clarius_sandbox",
        description="A simulated Clarius Cloud (API server + media server) for development.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    parser.add_argument("--api-port", type=int, default=8100, help="0 picks a free port")
    parser.add_argument("--media-port", type=int, default=8101, help="0 picks a free port")
    parser.add_argument(
        "--api-key", help="the Service API key to accept (<8-char prefix>.<secret>)"
    )
    parser.add_argument("--advertise-host", help="host name to put in URLs (default: --host)")
    parser.add_argument("--notification-url", default="", help="pre-register the webhook URL")
    parser.add_argument(
        "--token-transfer-url", default="", help="pre-register the token transfer URL ({token})"
    )
    parser.add_argument("--seed-users", type=int, default=0, metavar="N", help="create N users")
    parser.add_argument("--research-username", default="researcher@example.com")
    parser.add_argument("--research-password", default="research-pass")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.add_argument(
        "--send-application",
        action="store_true",
        help="name each exam's application in its exam data (the portal proposes an exam type)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    changes, errors = validate_settings(
        {"notification_url": args.notification_url, "token_transfer_url": args.token_transfer_url}
    )
    if errors:
        for name, messages in errors.items():
            print(f"--{name.replace('_', '-')}: {' '.join(messages)}", file=sys.stderr)
        return 2
    try:
        sandbox = Sandbox(
            args.host,
            args.api_port,
            args.media_port,
            api_key=args.api_key,
            research_username=args.research_username,
            research_password=args.research_password,
            advertise_host=args.advertise_host,
            log_requests=not args.quiet,
            send_application=args.send_application,
        ).start()
    except (OSError, ValueError) as e:
        print(f"cannot start the sandbox: {e}", file=sys.stderr)
        return 1
    sandbox.state.settings.update(changes)
    users = [
        sandbox.add_user(SEED_NAMES[i % len(SEED_NAMES)] + (f" {i + 1}" if i >= 4 else ""))
        for i in range(args.seed_users)
    ]
    print(f"Clarius sandbox API:   {sandbox.api_url}")
    print(f"Clarius sandbox media: {sandbox.media_origin}")
    print(f"Sandbox web page:      {sandbox.pages_url}")
    print(f"Service API key:       {sandbox.api_key}")
    print(f"Research login:        {sandbox.research_username} / {sandbox.research_password}")
    for user in users:
        print(f"User {user.name}: customer token {user.customer_token}")
    print("Press Ctrl-C to stop.", flush=True)

    stopping = threading.Event()
    # Ctrl-C stops it even when it was started with SIGINT ignored (a script's background
    # job inherits that from the shell, and so would every test run from one).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
