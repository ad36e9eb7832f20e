import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo.seed import DEMO_USERS


class Command(BaseCommand):
    help = "Run the web server and the worker together in the foreground; Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr, **options):
        if not settings.DEBUG:
            raise CommandError("run_demo is for development: set DJANGO_DEBUG=1.")
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        processes = {
            "web": subprocess.Popen([*manage, "runserver", "--noreload", addr]),
            "worker": subprocess.Popen([*manage, "qcluster"]),
        }
        self.print_banner(addr)
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                exited = {
                    name: p.returncode for name, p in processes.items() if p.poll() is not None
                }
                if exited:
                    self.stderr.write(f"Stopping: {exited} exited unexpectedly.")
                    break
                time.sleep(0.5)
        finally:
            self.stop_all(processes)
        if not stopping:
            raise CommandError("The demo stopped because a process exited.")
        self.stdout.write("Demo stopped.")

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

    def print_banner(self, addr):
        lines = [
            "",
            f"Clarius portal demo on http://{addr}/  (Ctrl-C stops the web server and worker)",
            "Log in with:",
        ]
        for email, _, role, password in DEMO_USERS:
            lines.append(f"  {role.label:<14} {email:<24} {password}")
        lines.append(f"Django admin: http://{addr}/admin/ as {DEMO_USERS[0][0]}")
        self.stdout.write("\n".join(lines) + "\n")
