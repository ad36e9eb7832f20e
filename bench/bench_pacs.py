"""Benchmark: an exam sent to a PACS by C-STORE, the portal's sender against ``storescu``.

Run ``python bench/bench_pacs.py`` from the repository root (``make bench BENCH=pacs``
does). It starts a local Orthanc (``integrations/dicom/local_pacs.py``: a temporary
storage folder, loopback ports) and the portal in this process on a fresh SQLite file,
makes an exam of 10 JPEG images and 2 H.264 clips from the Clarius sandbox, and plans it
to a DICOM destination pointing at the Orthanc (12 transmissions). Then, in alternating
rounds after an untimed warm-up, the study deleted from Orthanc before each round so every
round stores anew:

- **portal**: every transmission sent as the worker sends it
  (``portal.outbound.sending.send_transmission``: claim the row, build the DICOM object
  from the capture's file, one C-STORE association, record the answer);
- **storescu** (Debian ``dcmtk``): the same 12 objects, written once to a temporary
  folder with ``dcmwrite``, sent in one process and one association, each object in its
  own transfer syntax (an association profile, ``--config-file``).

Reported: seconds per exam, objects/s and MB/s of each (the medians of the rounds), and
the throughput ratio portal/storescu against its target (0.5). Exit status 0 when the run
completed (the verdict is printed); 1 if it failed; ``--strict`` also exits 1 below the
target.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this folder comes first on sys.path; its modules must only ever be
# imported as bench.<name>.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from bench.lib import django_setup  # noqa: E402
from bench.lib.report import Column, Table, log  # noqa: E402

TARGET = 0.5  # portal objects/s over storescu objects/s
IMAGES, CLIPS = 10, 2
CLIP_FRAMES = 60  # 4 s at the sandbox's 15 frames/s
ROUNDS = 5
CALLING_AE = "CLARIUSPORTAL"


class Unavailable(Exception):
    """A tool the benchmark needs is not installed."""


def make_exam(media_root: Path):
    """An institution, its DICOM destination (``None`` for now) and an exam of
    ``IMAGES`` images and ``CLIPS`` clips, stored as the ingestion stores captures."""
    import hashlib
    import uuid

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from clarius_sandbox import imaging, video
    from portal import storage
    from portal.exams import media
    from portal.exams.models import Capture, Exam, Patient, Submission
    from portal.tenants.models import Institution

    institution = Institution.objects.create(name="Bench Clinic", slug="bench-pacs")
    user = get_user_model().objects.create_user("operator@pacs.bench", full_name="Olga Operator")
    now = timezone.now()
    exam = Exam.objects.create(
        institution=institution,
        exam_uuid=uuid.uuid4(),
        operator=user,
        status=Exam.Status.READY,
        first_submitted_at=now,
        last_submitted_at=now,
    )
    Patient.objects.create(
        institution=institution,
        exam=exam,
        identifier="MRN-BENCH",
        first_name="Ben",
        last_name="Chmark",
        extra={"accession_number": "ACC-BENCH"},
    )
    submission = Submission.objects.create(
        institution=institution,
        exam=exam,
        request_uuid=uuid.uuid4(),
        submitted_at=now,
        download_url="https://cloud.clarius.com/api/public/v0/x/",
    )
    files = []
    for seed in range(IMAGES):
        picture = imaging.bmode_image(seed)
        files.append(("image/jpeg", imaging.encode_jpeg(picture), picture.size))
    for seed in range(CLIPS):
        files.append(("video/mp4", video.encode_clip(100 + seed, frames=CLIP_FRAMES), None))
    for position, (content_type, data, size) in enumerate(files):
        capture = Capture(
            institution=institution,
            exam=exam,
            submission=submission,
            position=position,
            source_url="https://example.invalid/",
            state=Capture.State.DONE,
            content_type=content_type,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            width=size[0] if size else None,
            height=size[1] if size else None,
            frame_rate=None if size else video.FPS,
        )
        capture.file = media.capture_relpath(capture, content_type)
        storage.save_bytes(capture.file, data)
        capture.save()
    return institution, exam


def plan(institution, exam, pacs):
    from portal.outbound import planning
    from portal.outbound.models import Destination, Transmission

    Destination.objects.create(
        institution=institution,
        name="Local PACS",
        kind="dicom",
        options={
            "host": "127.0.0.1",
            "port": pacs.dicom_port,
            "called_ae": pacs.aet,
            "calling_ae": CALLING_AE,
        },
    )
    planning.plan_exam(exam)
    pks = list(Transmission.objects.filter(exam=exam).order_by("pk").values_list("pk", flat=True))
    if len(pks) != IMAGES + CLIPS:
        raise RuntimeError(f"{len(pks)} transmissions planned, {IMAGES + CLIPS} expected")
    return pks


def write_files(pks, folder: Path) -> tuple[list[Path], int, Path]:
    """The objects the portal sends, as DICOM files for storescu; their total size; and
    storescu's association profile: each SOP class in the transfer syntax its files have
    (the portal offers the same), so nothing is converted on the way."""
    from pydicom import dcmwrite

    from integrations.dicom import objects
    from portal.outbound.models import Transmission

    paths, contexts = [], {}
    for pk in pks:
        transmission = Transmission.objects.select_related("exam", "capture").get(pk=pk)
        dataset = objects.build(transmission)
        path = folder / f"{pk}.dcm"
        dcmwrite(path, dataset, enforce_file_format=True)
        paths.append(path)
        contexts[str(dataset.SOPClassUID)] = str(dataset.file_meta.TransferSyntaxUID)
    syntaxes = sorted(set(contexts.values()))
    lines = ["[[TransferSyntaxes]]"]
    for n, syntax in enumerate(syntaxes, 1):
        lines += [f"[Syntax{n}]", f"TransferSyntax1 = {syntax}"]
    lines += ["[[PresentationContexts]]", "[Contexts]"]
    for n, (sop_class, syntax) in enumerate(sorted(contexts.items()), 1):
        lines.append(f"PresentationContext{n} = {sop_class}\\Syntax{syntaxes.index(syntax) + 1}")
    lines += ["[[Profiles]]", "[Bench]", "PresentationContexts = Contexts"]
    profile = folder / "storescu.cfg"
    profile.write_text("\n".join(lines) + "\n")
    return paths, sum(p.stat().st_size for p in paths), profile


def clear(pacs, exam) -> None:
    """Delete the exam's study from Orthanc, so the next round stores every object anew."""
    import requests

    from portal.outbound import uids

    found = requests.post(f"{pacs.url}/tools/lookup", data=uids.study_uid(exam), timeout=30).json()
    for item in found:
        requests.delete(f"{pacs.url}/studies/{item['ID']}", timeout=30).raise_for_status()


def count(pacs, exam) -> int:
    import requests

    from portal.outbound import uids

    found = requests.post(f"{pacs.url}/tools/lookup", data=uids.study_uid(exam), timeout=30).json()
    if not found:
        return 0
    statistics_ = requests.get(f"{pacs.url}/studies/{found[0]['ID']}/statistics", timeout=30)
    return int(statistics_.json()["CountInstances"])


def send_portal(pks) -> float:
    from django.utils import timezone

    from portal.outbound.models import Transmission
    from portal.outbound.sending import send_transmission

    Transmission.objects.filter(pk__in=pks).update(
        state=Transmission.State.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    started = time.perf_counter()
    outcomes = [send_transmission(pk) for pk in pks]
    took = time.perf_counter() - started
    if set(outcomes) != {"sent"}:
        errors = set(Transmission.objects.filter(pk__in=pks).values_list("last_error", flat=True))
        raise RuntimeError(f"the portal's sender: {outcomes}; {errors}")
    return took


def send_storescu(storescu: str, pacs, paths, profile: Path) -> float:
    command = [
        storescu,
        "--config-file", str(profile), "Bench",  # each file in its own transfer syntax
        "-aet", CALLING_AE,
        "-aec", pacs.aet,
        "127.0.0.1", str(pacs.dicom_port),
        *map(str, paths),
    ]  # fmt: skip
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    took = time.perf_counter() - started
    if result.returncode:
        raise RuntimeError(f"storescu exited {result.returncode}: {result.stderr[-2000:]}")
    return took


TABLE = Table(
    Column("sender", 9, left=True),
    Column("s/exam", 7, ".3f"),
    Column("objects/s", 10, ".1f"),
    Column("MB/s", 7, ".1f"),
    Column("rounds s", 24, left=True, gap=3),
)


def run(args) -> bool:
    from integrations.dicom import local_pacs

    if local_pacs.binary() is None:
        raise Unavailable("Orthanc is not installed (Debian: apt-get install orthanc)")
    storescu = shutil.which("storescu")
    if storescu is None:
        raise Unavailable("storescu is not installed (Debian: apt-get install dcmtk)")
    with tempfile.TemporaryDirectory(prefix="bench-pacs-") as tmp:
        tmp = Path(tmp)
        django_setup.in_process(
            f"sqlite:///{tmp / 'bench.sqlite3'}", PORTAL_MEDIA_ROOT=str(tmp / "media")
        )
        try:
            django_setup.migrate()
            with local_pacs.LocalOrthanc(tmp / "orthanc") as pacs:
                log(f"Orthanc on DICOM port {pacs.dicom_port}; making the exam")
                institution, exam = make_exam(tmp / "media")
                pks = plan(institution, exam, pacs)
                (tmp / "files").mkdir()
                paths, size, profile = write_files(pks, tmp / "files")
                log(f"{len(pks)} objects, {size / 1e6:.1f} MB; a warm-up round of each")
                clear(pacs, exam)
                send_portal(pks)
                clear(pacs, exam)
                send_storescu(storescu, pacs, paths, profile)
                timings = {"portal": [], "storescu": []}
                for n in range(args.rounds):
                    for name in ("portal", "storescu") if n % 2 == 0 else ("storescu", "portal"):
                        clear(pacs, exam)
                        took = (
                            send_portal(pks)
                            if name == "portal"
                            else send_storescu(storescu, pacs, paths, profile)
                        )
                        stored = count(pacs, exam)
                        if stored != len(pks):
                            raise RuntimeError(f"{name}: {stored} of {len(pks)} objects stored")
                        timings[name].append(took)
        finally:
            django_setup.close_connections()
    return report(timings, len(pks), size, args)


def report(timings: dict, objects: int, size: int, args) -> bool:
    print()
    print(
        f"C-STORE to a local Orthanc: an exam of {IMAGES} JPEG images and {CLIPS} H.264 clips "
        f"({objects} objects, {size / 1e6:.1f} MB), {args.rounds} alternating rounds "
        "after a warm-up, the study deleted before each"
    )
    print(TABLE.header())
    medians = {}
    for name, values in timings.items():
        medians[name] = statistics.median(values)
        rounds = " ".join(f"{v:.2f}" for v in values)
        print(
            TABLE.row(
                name, medians[name], objects / medians[name], size / 1e6 / medians[name], rounds
            )
        )
    ratio = medians["storescu"] / medians["portal"]
    met = ratio >= TARGET
    print()
    print(
        f"portal/storescu throughput: {ratio:.2f}, target >= {TARGET}: "
        f"{'met' if met else 'NOT met'}"
        + (" (--strict: exit 1)" if args.strict and not met else " (exit status 0)")
    )
    return met


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="timed rounds of each sender")
    parser.add_argument("--strict", action="store_true", help="exit 1 below the target")
    args = parser.parse_args(argv)
    try:
        met = run(args)
    except Unavailable as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    except RuntimeError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
