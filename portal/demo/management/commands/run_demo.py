import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo.seed import DEMO_USERS

SANDBOX_MEDIA_PORT = 8101


class Command(BaseCommand):
    help = (
        "Run the Clarius sandbox, the web server and the worker together in the foreground, "
        "configured against each other; Ctrl-C stops all three."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr, **options):
        if not settings.DEBUG:
            raise CommandError("run_demo is for development: set DJANGO_DEBUG=1.")
        api = urlsplit(settings.CLARIUS_API_URL)
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        processes = {}
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            processes["sandbox"] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "clarius_sandbox",
                    "--quiet",
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
            )
            wait_for_port(api.hostname, api.port, processes["sandbox"])
            self.register_with_sandbox()
            processes["web"] = subprocess.Popen([*manage, "runserver", "--noreload", addr])
            processes["worker"] = subprocess.Popen([*manage, "qcluster"])
            self.print_banner(addr, api)
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
        self.stdout.write("Demo stopped.")

    def register_with_sandbox(self):
        """What `manage.py clarius register` does, so Connect and Upload exam just work."""
        from integrations.clarius.account.registration import wanted_settings
        from integrations.clarius.clients import service_client

        with service_client() as client:
            client.update_settings(**wanted_settings())

    def stop_all(self, processes):
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def print_banner(self, addr, api):
        lines = [
            "",
            f"Clarius portal demo on http://{addr}/  (Ctrl-C stops everything)",
            "Log in with:",
        ]
        for email, _, role, password in DEMO_USERS:
            lines.append(f"  {role.label:<14} {email:<24} {password}")
        lines += [
            f"Django admin: http://{addr}/admin/ as {DEMO_USERS[0][0]}",
            f"Clarius sandbox (play a Clarius user): http://{api.hostname}:{api.port}/sandbox/",
            "  Connect a sandbox user, log in as the clinician, link; then Upload exam.",
        ]
        self.stdout.write("\n".join(lines) + "\n")


def wait_for_port(host, port, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CommandError(f"The Clarius sandbox exited (status {process.returncode}).")
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise CommandError(f"The Clarius sandbox did not start on {host}:{port}.")
