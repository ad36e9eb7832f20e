"""The demo console (``manage.py run_demo``, ``portal.demo.console``): quiet by default
(warnings and errors, no request or task lines), ``--verbose`` for everything, the
logins printed last once everything has started and again on Ctrl-C, and every process
stopped within 5 s, the worker even in the middle of a long task."""

import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import call_command

from integrations.dicom import local_pacs
from portal.demo import console
from portal.demo import outbound as hospital
from portal.demo.management.commands import run_demo
from portal.demo.seed import seed_demo
from portal.outbound.models import Destination
from tests import services
from tests.subprocesses import ROOT, clean_env

# Settings as each demo process reads them, printed by a child interpreter.
SETTINGS_SNIPPET = """
import json, django
from django.conf import settings
django.setup()
import logging
print(json.dumps({
    "server": logging.getLogger("django.server").getEffectiveLevel(),
    "request": logging.getLogger("django.request").getEffectiveLevel(),
    "q": logging.getLogger("django-q").getEffectiveLevel(),
    "dicom": logging.getLogger("pynetdicom.association").getEffectiveLevel(),
    "pdf": logging.getLogger("weasyprint.progress").getEffectiveLevel(),
    "security": logging.getLogger("django.security.csrf").getEffectiveLevel(),
    "portal": logging.getLogger("portal.reports.tasks").getEffectiveLevel(),
}))
"""


def demo_levels(tmp_path, verbose):
    env = console.child_env(verbose, clean_env(tmp_path))
    result = subprocess.run(
        [sys.executable, "-c", SETTINGS_SNIPPET],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_demo_is_quiet_but_keeps_warnings_and_errors(tmp_path):
    levels = demo_levels(tmp_path, verbose=False)
    assert levels["server"] == levels["request"] == 40  # requests and 404s: errors only
    assert levels["q"] == 30  # no "Enqueued"/"Processed"
    assert levels["dicom"] == 30  # no association lines for each object sent to the PACS
    assert levels["pdf"] == 30  # no WeasyPrint steps
    assert levels["security"] <= 30 and levels["portal"] <= 30  # warnings still shown


def test_verbose_shows_requests_and_tasks(tmp_path):
    levels = demo_levels(tmp_path, verbose=True)
    assert levels["server"] == levels["q"] == 20


def test_quiet_logging_leaves_the_portals_configuration_alone():
    from django.conf import settings

    quiet = console.quiet_logging(settings.LOGGING)
    assert quiet["loggers"]["django.server"]["handlers"] == ["console"]  # kept, raised
    assert quiet["loggers"]["django.server"]["level"] == "ERROR"
    assert settings.LOGGING["loggers"]["django.server"]["level"] == "INFO"


# Orchestration -----------------------------------------------------------------------


class FakeProcess:
    def __init__(self, command, log, env):
        self.command, self.log, self.returncode = command, log, None
        log.append(("start", self.name))
        if env is not None:  # Orthanc is not a Django process: no settings to pass
            log.append(("env", env[console.VERBOSE_ENV]))

    @property
    def name(self):
        text = " ".join(map(str, self.command))
        if "Orthanc" in text:
            return "pacs"
        return "sandbox" if "clarius_sandbox" in text else "worker" if "qcluster" in text else "web"

    def poll(self):
        return self.returncode


@pytest.fixture
def orchestra(monkeypatch, settings, db, tmp_path):
    settings.DEBUG = True
    log = []
    monkeypatch.setattr(
        console, "start", lambda command, **kw: FakeProcess(command, log, kw.get("env"))
    )
    # Orthanc "starts" (the fake process) in a folder of the test's; the HL7 listener is
    # the real one, on a free port.
    monkeypatch.setattr(local_pacs, "binary", lambda: "/usr/sbin/Orthanc")
    monkeypatch.setattr(local_pacs.LocalOrthanc, "wait_ready", lambda self, timeout=30: None)
    monkeypatch.setattr(run_demo, "pacs_folder", lambda: tmp_path / "pacs")
    monkeypatch.setattr(hospital, "HL7_PORT", 0)
    monkeypatch.setattr(
        console,
        "stop_all",
        lambda children: log.extend(("stop", p.name, grace) for p, grace in children),
    )
    monkeypatch.setattr(run_demo, "wait_for_port", lambda *a, **k: log.append(("ready",)))
    monkeypatch.setattr(run_demo.Command, "register_with_sandbox", lambda self: None)
    # The first pause of the watch loop is a Ctrl-C.
    monkeypatch.setattr(run_demo.time, "sleep", lambda s: os.kill(os.getpid(), signal.SIGINT))
    previous = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    yield log
    signal.signal(signal.SIGINT, previous[0])
    signal.signal(signal.SIGTERM, previous[1])


def test_it_prints_the_logins_last_and_again_on_ctrl_c(orchestra, capsys):
    call_command("run_demo")
    out = capsys.readouterr().out
    started, stopped = out.split("Demo stopped.")
    assert "Log in with:" in started
    assert "Quiet: warnings and errors only" in started.rstrip().splitlines()[-1]
    assert "The demo logins, for next time:" in stopped
    for email in ("admin@demo.clinic", "reviewer@demo.clinic", "clinician@demo.clinic"):
        assert email in started and email in stopped
    # The logins come once every process is up; on Ctrl-C the worker stops first.
    assert [e[0] for e in orchestra if e[0] in ("start", "ready")][-1] == "ready"
    stops = [e[1:] for e in orchestra if e[0] == "stop"]
    assert [name for name, _ in stops] == ["worker", "web", "sandbox", "pacs"]
    assert all(grace <= 3 for _, grace in stops)


@pytest.mark.parametrize(
    ("args", "verbose"), [([], "0"), (["--verbose"], "1"), (["--verbosity", "2"], "1")]
)
def test_verbose_reaches_every_process(orchestra, capsys, args, verbose):
    call_command("run_demo", *args)
    assert {e[1] for e in orchestra if e[0] == "env"} == {verbose}


# The Demo Clinic's PACS and EHR ----------------------------------------------------


def test_the_banner_lists_orthanc_and_the_hl7_listener_wired_as_destinations(orchestra, capsys):
    seed_demo()
    call_command("run_demo")
    started = capsys.readouterr().out.split("Demo stopped.")[0]
    pacs = Destination.objects.get(name=hospital.PACS_NAME)
    ehr = Destination.objects.get(name=hospital.EHR_NAME)
    explorer = hospital.explorer_url(run_demo.port_or_free(hospital.ORTHANC_HTTP_PORT))
    assert f"PACS (Orthanc Explorer): {explorer}" in started
    assert f"ORTHANC@127.0.0.1:{pacs.option('port')}" in started
    listener_port = ehr.option("port")
    assert listener_port and f"MLLP on 127.0.0.1:{listener_port}" in started
    assert pacs.is_active and ehr.is_active
    assert pacs.kind == "dicom" and pacs.option("called_ae") == "ORTHANC"
    assert ehr.kind == "hl7" and not ehr.send_images and ehr.send_report
    # Orthanc stopped with the others; the listener's port is free again.
    assert ("stop", "pacs", run_demo.STOP_GRACE["pacs"]) in orchestra
    assert run_demo.port_or_free(listener_port) == listener_port


def test_without_orthanc_the_demo_says_how_to_add_it_and_runs_without(
    orchestra, capsys, monkeypatch
):
    monkeypatch.setattr(local_pacs, "binary", lambda: None)
    seed_demo()
    call_command("run_demo")
    started = capsys.readouterr().out.split("Demo stopped.")[0]
    assert "sudo apt-get install orthanc orthanc-dicomweb" in started
    assert "Orthanc Explorer" not in started
    assert "pacs" not in {e[1] for e in orchestra if e[0] == "start"}
    # No PACS destination takes the exams; the EHR one still does.
    assert not Destination.objects.get(name=hospital.PACS_NAME).is_active
    assert Destination.objects.get(name=hospital.EHR_NAME).is_active
    # Run again with Orthanc: the same two destinations, the PACS active again.
    monkeypatch.setattr(local_pacs, "binary", lambda: "/usr/sbin/Orthanc")
    call_command("run_demo")
    assert Destination.objects.count() == 2
    assert Destination.objects.get(name=hospital.PACS_NAME).is_active


def test_the_real_orthanc_and_listener_answer_the_clinics_destinations(db, tmp_path, monkeypatch):
    """What `make demo` starts, for real: a C-ECHO to the PACS destination and an MLLP
    round trip to the EHR one, which the listener prints, bounded."""
    orthanc = services.orthanc()
    from portal.outbound import kinds

    for name in ("ORTHANC_HTTP_PORT", "ORTHANC_DICOM_PORT"):
        monkeypatch.setattr(hospital, name, orthanc.free_port())
    monkeypatch.setattr(hospital, "HL7_PORT", 0)
    monkeypatch.setattr(run_demo, "pacs_folder", lambda: tmp_path / "pacs")
    seed_demo()
    out = io.StringIO()
    command = run_demo.Command(stdout=out)
    processes = {}
    try:
        command.start_hospital(processes)
        pacs = Destination.objects.get(name=hospital.PACS_NAME)
        ehr = Destination.objects.get(name=hospital.EHR_NAME)
        assert pacs.option("port") == hospital.ORTHANC_DICOM_PORT
        assert kinds.get("dicom").test(pacs)  # a C-ECHO, answered
        assert command.pacs.rest("/system")["DicomAet"] == "ORTHANC"
        assert kinds.get("hl7").test(ehr)  # an MLLP round trip, acknowledged
    finally:
        command.stop_all(processes)
        command.stop_hospital()
    assert processes["pacs"].poll() is not None
    printed = out.getvalue()
    assert printed.startswith("HL7 listener received:")
    lines = printed.splitlines()
    assert len(lines) <= run_demo.HL7_LINES + 2
    assert all(len(line) <= run_demo.HL7_LINE_LENGTH for line in lines)


def test_a_taken_port_is_replaced_by_a_free_one():
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = run_demo.port_or_free(port)
    assert other != port and other > 0


# Stopping ----------------------------------------------------------------------------

STUBBORN = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
if sys.argv[1] == "term": signal.signal(signal.SIGTERM, signal.SIG_IGN)
GRANDCHILD = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)"
child = subprocess.Popen([sys.executable, "-c", GRANDCHILD])
print(child.pid, flush=True)
time.sleep(60)
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purpose.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"


@pytest.mark.parametrize("ignores", ["int", "term"])
def test_a_process_that_will_not_stop_is_ended_with_its_children(ignores):
    process = console.start(
        [sys.executable, "-c", STUBBORN, ignores], stdout=subprocess.PIPE, text=True
    )
    grandchild = int(process.stdout.readline())
    took = console.stop(process, grace=1.0)
    assert took < 3
    assert process.returncode is not None
    time.sleep(0.2)
    assert not alive(grandchild)


WORKER_SETUP = """
import django
django.setup()
from django.db import connection
from django.apps import apps
with connection.schema_editor() as editor:
    for model in apps.get_app_config("django_q").get_models():
        if not model._meta.proxy:
            editor.create_model(model)
from django_q.tasks import async_task
async_task("time.sleep", 60)  # a long task in hand when Ctrl-C comes
"""


def test_the_worker_stops_within_5_seconds_even_in_a_long_task(tmp_path):
    env = console.child_env(True, clean_env(tmp_path))
    setup = subprocess.run(
        [sys.executable, "-c", WORKER_SETUP],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert setup.returncode == 0, setup.stderr
    worker = console.start(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        for line in worker.stdout:
            if "processing" in line or time.monotonic() > deadline:
                break
        assert "processing" in line, "the worker never took the task"
        took = console.stop(worker, grace=run_demo.STOP_GRACE["worker"])
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    assert took < 5
    time.sleep(0.3)
    assert not group_members(worker.pid)  # nothing of the worker's group is left


def group_members(pgid):
    """The live (not zombie) processes of a process group."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(") ", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry))
    return members
