import signal
import socket
import sys
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo import console
from portal.demo.seed import DEMO_USERS

SANDBOX_MEDIA_PORT = 8101
# How long each process may take to stop by itself before its group is terminated.
STOP_GRACE = {"worker": 3.0, "web": 2.0, "sandbox": 2.0}


class Command(BaseCommand):
    help = (
        "Run the Clarius sandbox, the web server and the worker together in the foreground, "
        "configured against each other; Ctrl-C stops all three. Quiet by default (warnings "
        "and errors only): --verbose, or --verbosity 2, shows request and task logs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument(
            "--verbose",
            action="store_true",
            help="Show every request and task (as --verbosity 2 does).",
        )

    def handle(self, *args, addr, verbose=False, **options):
        if not settings.DEBUG:
            raise CommandError("run_demo is for development: set DJANGO_DEBUG=1.")
        verbose = verbose or options.get("verbosity", 1) >= 2
        if not verbose:
            console.quiet_this_process()
        api = urlsplit(settings.CLARIUS_API_URL)
        env = console.child_env(verbose)
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        processes = {}
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            processes["sandbox"] = console.start(
                [
                    sys.executable,
                    "-m",
                    "clarius_sandbox",
                    *([] if verbose else ["--quiet"]),
                    "--host",
                    api.hostname,
                    "--api-port",
                    str(api.port),
                    "--media-port",
                    str(SANDBOX_MEDIA_PORT),
                    "--api-key",
                    settings.CLARIUS_API_KEY,
                    "--seed-users",
                    "3",
                    # Exams name their application, so the portal proposes their type.
                    "--send-application",
                ],
                cwd=settings.BASE_DIR,
                env=env,
            )
            wait_for_port(api.hostname, api.port, processes["sandbox"], "The Clarius sandbox")
            self.register_with_sandbox()
            processes["worker"] = console.start([*manage, "qcluster"], env=env)
            web_host, _, web_port = addr.rpartition(":")
            processes["web"] = console.start(
                [*manage, "runserver", "--noreload", *([] if verbose else ["-v", "0"]), addr],
                env=env,
            )
            wait_for_port(web_host or "127.0.0.1", int(web_port), processes["web"], "The portal")
            # Printed once everything has started, so nothing of theirs scrolls it away.
            self.stdout.write(self.logins(addr, api))
            while not stopping:
                exited = {n: p.returncode for n, p in processes.items() if p.poll() is not None}
                if exited:
                    self.stderr.write(f"Stopping: {exited} exited unexpectedly.")
                    break
                time.sleep(0.5)
        finally:
            self.stop_all(processes)
        if not stopping:
            raise CommandError("The demo stopped because a process exited.")
        self.stdout.write("Demo stopped. " + self.logins(addr, api, again=True))

    def register_with_sandbox(self):
        """What `manage.py clarius register` does, so Connect and Upload exam just work."""
        from integrations.clarius.account.registration import wanted_settings
        from integrations.clarius.clients import service_client

        with service_client() as client:
            client.update_settings(**wanted_settings())

    def stop_all(self, processes):
        # All at once, the worker first (the sandbox still answers the task in hand).
        order = [name for name in ("worker", "web", "sandbox") if name in processes]
        console.stop_all([(processes[name], STOP_GRACE[name]) for name in order])

    def logins(self, addr, api, again=False):
        lines = (
            []
            if again
            else ["", f"Clarius portal demo on http://{addr}/  (Ctrl-C stops everything)"]
        )
        lines.append("Log in with:" if not again else "The demo logins, for next time:")
        for email, _, role, password in DEMO_USERS:
            lines.append(f"  {role.label:<14} {email:<24} {password}")
        if not again:
            lines += [
                f"Django admin: http://{addr}/admin/ as {DEMO_USERS[0][0]}",
                f"Clarius sandbox (play a Clarius user): http://{api.hostname}:{api.port}/sandbox/",
                "  Connect a sandbox user, log in as the clinician, link; then Upload exam.",
                "Quiet: warnings and errors only (run_demo --verbose shows every request).",
            ]
        return "\n".join(lines) + "\n"


def wait_for_port(host, port, process, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CommandError(f"{what} exited (status {process.returncode}).")
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise CommandError(f"{what} did not start on {host}:{port}.")
