import json
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal.demo import console
from portal.demo import outbound as hospital
from portal.demo.seed import DEMO_SLUG, DEMO_USERS

SANDBOX_MEDIA_PORT = 8101
# How long each process may take to stop by itself before its group is terminated.
STOP_GRACE = {"worker": 3.0, "web": 2.0, "sandbox": 2.0, "pacs": 3.0}
# What the HL7 listener prints of each message: enough to see the result arrive.
HL7_LINES = 20
HL7_LINE_LENGTH = 150


class Command(BaseCommand):
    # The Demo Clinic's PACS (a LocalOrthanc) and EHR (an HL7 listener) once started.
    pacs = listener = pacs_log = None
    pacs_note = ""  # why there is no PACS, and how to add one
    help = (
        "Run the Clarius sandbox, the web server and the worker together in the foreground, "
        "configured against each other, with a local Orthanc (the Demo Clinic's PACS) and an "
        "HL7 listener (its EHR); Ctrl-C stops them all. Quiet by default (warnings and "
        "errors only): --verbose, or --verbosity 2, shows request and task logs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument(
            "--verbose",
            action="store_true",
            help="Show every request and task (as --verbosity 2 does).",
        )

    def execute(self, *args, **options):
        # Quiet before the system checks, whose URL imports load WeasyPrint (which logs
        # each stylesheet it parses at INFO).
        if not (options.get("verbose") or options.get("verbosity", 1) >= 2):
            console.quiet_this_process()
        return super().execute(*args, **options)

    def handle(self, *args, addr, verbose=False, **options):
        if not settings.DEBUG:
            raise CommandError("run_demo is for development: set DJANGO_DEBUG=1.")
        verbose = verbose or options.get("verbosity", 1) >= 2
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
            self.start_hospital(processes)
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
            self.stop_hospital()
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
        order = [name for name in ("worker", "web", "sandbox", "pacs") if name in processes]
        console.stop_all([(processes[name], STOP_GRACE[name]) for name in order])

    # The Demo Clinic's PACS and EHR --------------------------------------------------

    def start_hospital(self, processes):
        """Orthanc (a child, stopped with the others) and the HL7 listener (a thread of
        this process), then the clinic's destinations pointed at them. Either may be
        missing: the demo runs without it and says so."""
        dicom_port = self.start_pacs(processes)
        hl7_port = self.start_listener()
        from portal.tenants.models import Institution

        institution = Institution.objects.filter(slug=DEMO_SLUG).first()
        if institution is not None:
            hospital.wire(institution, dicom_port=dicom_port, hl7_port=hl7_port)

    def start_pacs(self, processes) -> int | None:
        from integrations.dicom import local_pacs

        executable = local_pacs.binary()
        if executable is None:
            self.pacs_note = (
                "No PACS: Orthanc is not installed. To see signed exams arrive in one: "
                f"{hospital.INSTALL_ORTHANC}, then make demo again."
            )
            return None
        pacs = local_pacs.LocalOrthanc(
            pacs_folder(),
            aet=hospital.ORTHANC_AET,
            http_port=port_or_free(hospital.ORTHANC_HTTP_PORT),
            dicom_port=port_or_free(hospital.ORTHANC_DICOM_PORT),
            name="Demo Clinic PACS",
        )
        pacs.folder.mkdir(parents=True, exist_ok=True)
        config = pacs.folder / "orthanc.json"
        config.write_text(json.dumps(pacs.config(), indent=2))
        # Its log goes to a file: the console stays quiet.
        self.pacs_log = open(pacs.folder / "orthanc.log", "ab")  # noqa: SIM115 - closed on stop
        pacs.process = processes["pacs"] = console.start(
            [executable, str(config)], stdout=self.pacs_log, stderr=subprocess.STDOUT
        )
        try:
            pacs.wait_ready(30)
        except (RuntimeError, TimeoutError) as e:
            console.stop(processes.pop("pacs"), STOP_GRACE["pacs"])
            self.pacs_note = f"No PACS: Orthanc did not start ({e})."
            return None
        self.pacs = pacs
        return pacs.dicom_port

    def start_listener(self) -> int | None:
        try:
            from integrations.hl7 import listener
        except ImportError:  # an installation without the HL7 integration
            return None
        self.print_lock = threading.Lock()
        try:
            self.listener = listener.serve(
                hospital.HOST, port_or_free(hospital.HL7_PORT), on_message=self.print_hl7
            )
        except OSError:  # taken since it was found free: any free port will do
            self.listener = listener.serve(hospital.HOST, 0, on_message=self.print_hl7)
        return self.listener.port

    def print_hl7(self, received):
        """A message the listener received, readable and bounded (the PDF by its size)."""
        from integrations.hl7 import listener

        lines = listener.readable(received).splitlines()
        shown = [
            line if len(line) <= HL7_LINE_LENGTH else line[: HL7_LINE_LENGTH - 1] + "…"
            for line in lines[:HL7_LINES]
        ]
        if len(lines) > HL7_LINES:
            shown.append(f"  … {len(lines) - HL7_LINES} more lines")
        with self.print_lock:
            self.stdout.write("HL7 listener received:\n" + "\n".join(shown))

    def stop_hospital(self):
        if self.listener is not None:
            self.listener.stop()
        if self.pacs_log is not None:
            self.pacs_log.close()

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
                *self.hospital_lines(),
                "Quiet: warnings and errors only (run_demo --verbose shows every request).",
            ]
        return "\n".join(lines) + "\n"

    def hospital_lines(self):
        lines = []
        if self.pacs is not None:
            lines += [
                f"PACS (Orthanc Explorer): {hospital.explorer_url(self.pacs.http_port)}",
                f"  DICOM {self.pacs.aet}@{hospital.HOST}:{self.pacs.dicom_port}; a signed "
                "exam's images and report appear there.",
            ]
        elif self.pacs_note:
            lines.append(self.pacs_note)
        if self.listener is not None:
            lines.append(
                f"EHR (HL7 listener): MLLP on {hospital.HOST}:{self.listener.port}; each "
                "ORU^R01 it receives is printed here."
            )
        return lines


def pacs_folder():
    # Kept between runs, as a PACS keeps its studies; `make clean` removes var/.
    return settings.VAR_DIR / "demo-orthanc"


def port_or_free(port: int) -> int:
    """``port`` when nothing listens there, else a free one (the banner says which)."""
    with socket.socket() as s:
        try:
            s.bind((hospital.HOST, port))
            return port
        except OSError:
            s.bind((hospital.HOST, 0))
            return s.getsockname()[1]


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
