"""An exam's captures downloaded at once by the task that fetched its data
(integrations/clarius/ingestion/media_fetch.py), from a local media server that counts
the requests it is serving at once."""

import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection, connections
from PIL import Image

from integrations.clarius import clients, tasks
from integrations.clarius.ingestion import media_fetch
from portal import work
from portal.exams.models import Capture, Exam
from tests.factories import make_exam

pytestmark = pytest.mark.django_db(transaction=True)

SERVE_SECONDS = 0.4  # each response takes this long: downloads overlap or they do not
# What the task hands download_captures: the download half and the recorder.
TASK = (tasks.prepare_capture, tasks.record_captures)


def jpeg(n: int) -> bytes:
    """A small JPEG of its own colour: no two captures have the same bytes."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (n * 7 % 256, n * 13 % 256, n * 29 % 256)).save(out, "JPEG")
    return out.getvalue()


class MediaServer:
    """Serves ``/<n>.jpg`` slowly and ``/broken/<n>.jpg`` as 404; counts requests per path
    and the most it served at once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.active = self.most = 0
        self.requests: dict[str, int] = {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                with outer.lock:
                    outer.active += 1
                    outer.most = max(outer.most, outer.active)
                    outer.requests[self.path] = outer.requests.get(self.path, 0) + 1
                try:
                    time.sleep(SERVE_SECONDS)
                    if self.path.startswith("/broken/"):
                        self.send_response(404)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    body = jpeg(int(self.path.strip("/").split(".")[0]))
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                finally:
                    with outer.lock:
                        outer.active -= 1

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def media_server(settings, tmp_path):
    settings.PORTAL_MEDIA_ROOT = tmp_path / "media"
    settings.CLARIUS_ALLOW_HTTP = True
    settings.CLARIUS_API_KEY = "TestKey1.media-fetch-tests-only"
    with MediaServer() as server:
        settings.CLARIUS_MEDIA_ORIGINS = [server.origin]
        yield server


def pending_exam(institution, server, paths):
    """An exam receiving media, with one due capture per path on ``server``."""
    exam = make_exam(institution, captures=0, status=Exam.Status.RECEIVING)
    submission = exam.submissions.get()
    ids = []
    for position, path in enumerate(paths):
        capture = Capture(
            institution=institution,
            exam=exam,
            submission=submission,
            position=position,
            source_url=f"{server.origin}{path}",
        )
        work.schedule_now(capture)
        capture.save()
        ids.append(capture.pk)
    return exam, ids


def test_captures_download_at_once_but_never_more_than_the_cap(media_server, settings, northside):
    settings.PORTAL_CAPTURE_DOWNLOADS_PER_EXAM = 3
    exam, ids = pending_exam(northside, media_server, [f"/{n}.jpg" for n in range(9)])
    started = time.monotonic()
    outcomes = media_fetch.download_captures(ids, *TASK)
    elapsed = time.monotonic() - started
    assert outcomes == {"done": 9}
    assert media_server.most == 3
    # Faster than one at a time could ever be (nine slow responses in a row).
    assert elapsed < 9 * SERVE_SECONDS
    assert set(Capture.objects.values_list("state", flat=True)) == {"done"}
    exam.refresh_from_db()
    assert exam.status == Exam.Status.READY


def test_the_worker_cap_holds_across_exams(media_server, settings, northside):
    settings.PORTAL_CAPTURE_DOWNLOADS_PER_EXAM = 3
    settings.PORTAL_CAPTURE_DOWNLOADS_PER_WORKER = 4
    _, first = pending_exam(northside, media_server, [f"/{n}.jpg" for n in range(6)])
    _, second = pending_exam(northside, media_server, [f"/{n}.jpg" for n in range(6, 12)])
    runs = [
        threading.Thread(target=media_fetch.download_captures, args=(ids, *TASK))
        for ids in (first, second)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join(30)
    assert media_server.most == 4
    assert Capture.objects.filter(state="done").count() == 12


def test_a_failing_capture_does_not_stop_the_others(media_server, settings, northside):
    settings.PORTAL_CAPTURE_DOWNLOADS_PER_EXAM = 2
    paths = ["/0.jpg", "/broken/1.jpg", "/2.jpg", "/3.jpg"]
    exam, ids = pending_exam(northside, media_server, paths)
    outcomes = media_fetch.download_captures(ids, *TASK)
    assert outcomes == {"done": 3, "retry": 1}
    broken = Capture.objects.get(pk=ids[1])
    assert broken.state == "pending" and broken.next_attempt_at is not None
    assert "404" in broken.last_error
    assert Capture.objects.filter(state="done").count() == 3


def test_a_crashed_download_leaves_its_capture_due_and_the_others_go_on(
    media_server, settings, northside
):
    settings.PORTAL_CAPTURE_DOWNLOADS_PER_EXAM = 2
    exam, ids = pending_exam(northside, media_server, [f"/{n}.jpg" for n in range(4)])
    real = tasks.prepare_capture

    def crashing(capture_id):
        if capture_id == ids[0]:
            raise RuntimeError("the thread fell over before claiming")
        return real(capture_id)

    outcomes = media_fetch.download_captures(ids, crashing, tasks.record_captures)
    assert outcomes == {"done": 3, "error": 1}
    # Not claimed, still due: the sweeper hands it out.
    assert work.due(Capture.objects.filter(pk=ids[0], state="pending")).exists()


def test_nothing_is_downloaded_twice(media_server, settings, northside):
    """Two workers handed the same exam (a queued nudge and the sweeper, say)."""
    settings.PORTAL_CAPTURE_DOWNLOADS_PER_EXAM = 4
    _, ids = pending_exam(northside, media_server, [f"/{n}.jpg" for n in range(8)])
    results = []

    def worker():
        results.append(media_fetch.download_captures(ids, *TASK))

    runs = [threading.Thread(target=worker) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join(30)
    assert sum(r.get("done", 0) for r in results) == 8
    assert sum(r.get("not due", 0) for r in results) == 8
    assert set(media_server.requests.values()) == {1} and len(media_server.requests) == 8


def test_clips_are_started_first(northside):
    exam = make_exam(northside, captures=0)
    submission = exam.submissions.get()
    urls = ["https://m.invalid/a.jpg", "https://m.invalid/b.MP4?sig=1", "https://m.invalid/c"]
    ids = [
        Capture.objects.create(
            institution=northside, exam=exam, submission=submission, position=n, source_url=url
        ).pk
        for n, url in enumerate(urls)
    ]
    assert media_fetch.clips_first(ids) == [ids[1], ids[0], ids[2]]


@pytest.mark.django_db(transaction=False)
def test_inside_a_transaction_the_captures_are_queued_instead(northside, monkeypatch):
    queued = []
    monkeypatch.setattr(media_fetch, "queue_each", lambda ids: queued.extend(ids))
    assert connection.in_atomic_block
    assert media_fetch.download_captures([5, 6, 5], *TASK) == {"queued": 2}
    assert queued == [5, 6]


def test_captures_downloaded_together_are_recorded_together(media_server, settings, northside):
    settings.PORTAL_CAPTURE_DOWNLOADS_PER_EXAM = 4
    exam, ids = pending_exam(northside, media_server, [f"/{n}.jpg" for n in range(4)])
    batches, record = [], tasks.record_captures
    met = threading.Barrier(4, timeout=30)

    def prepare_then_meet(capture_id):
        prepared = tasks.prepare_capture(capture_id)
        met.wait()  # all four are downloaded: they reach the recorder together
        return prepared

    def recording(captures):
        batches.append(len(captures))
        return record(captures)

    assert media_fetch.download_captures(ids, prepare_then_meet, recording) == {"done": 4}
    assert sum(batches) == 4 and len(batches) < 4
    exam.refresh_from_db()
    assert exam.status == Exam.Status.READY


def test_a_batch_holding_a_copy_and_its_original_records_both_rightly(
    media_server, settings, northside
):
    # The same image twice (a resubmission): one is the original, the other its copy.
    exam, ids = pending_exam(northside, media_server, ["/7.jpg", "/7.jpg", "/8.jpg"])
    prepared = [tasks.prepare_capture(pk) for pk in ids]
    assert tasks.record_captures(prepared) == ["done", "duplicate", "done"]
    first, copy, other = (Capture.objects.get(pk=pk) for pk in ids)
    assert copy.duplicate_of == first and copy.file == first.file
    assert other.duplicate_of is None and other.file != first.file
    exam.refresh_from_db()
    assert exam.status == Exam.Status.READY


def test_a_batch_that_fails_is_recorded_one_by_one_as_prepared(
    media_server, settings, northside, monkeypatch
):
    exam, ids = pending_exam(northside, media_server, ["/3.jpg", "/3.jpg", "/4.jpg"])
    prepared = [tasks.prepare_capture(pk) for pk in ids]
    files = [capture.file for capture in prepared]
    real = tasks.record_downloaded

    def refusing(capture):
        recorded = real(capture)  # the copy takes its original's file in memory...
        if capture.pk == ids[2]:
            raise RuntimeError("the database refused this one")  # ...then all rolls back
        return recorded

    monkeypatch.setattr(tasks, "record_downloaded", refusing)
    assert tasks.record_captures(prepared) == ["done", "duplicate", "retry"]
    first, copy, failed = (Capture.objects.get(pk=pk) for pk in ids)
    assert (first.state, first.file) == ("done", files[0])
    assert copy.duplicate_of == first and copy.file == first.file
    assert failed.state == "pending" and "refused" in failed.last_error
    assert failed.file == ""  # nothing half-recorded: its file was removed, it is due again


def test_the_download_threads_live_from_one_exam_to_the_next(media_server, settings, northside):
    """A capture does not pay for a new thread, database connection and media client: the
    process's download threads serve exam after exam, and end when told."""
    settings.PORTAL_CAPTURE_DOWNLOADS_PER_EXAM = 2
    settings.PORTAL_CAPTURE_DOWNLOADS_PER_WORKER = 2
    seen = []

    def prepare(capture_id):
        seen.append((threading.current_thread(), id(clients.media_client())))
        return tasks.prepare_capture(capture_id)

    for first in (0, 2, 4):
        _, ids = pending_exam(northside, media_server, [f"/{first + n}.jpg" for n in range(2)])
        assert media_fetch.download_captures(ids, prepare, tasks.record_captures) == {"done": 2}
    threads = {thread for thread, _ in seen}
    assert len(seen) == 6 and len(threads) == 2
    assert all(thread.is_alive() for thread in threads)
    # One media client per thread, kept: its connections to the store are reused.
    assert len({client for _, client in seen}) == 2
    media_fetch.stop_downloaders()
    assert not any(thread.is_alive() for thread in threads)


def test_an_idle_download_thread_gives_its_connection_back(
    media_server, settings, northside, monkeypatch
):
    monkeypatch.setattr(media_fetch, "IDLE_SECONDS", 0.1)
    settings.PORTAL_CAPTURE_DOWNLOADS_PER_WORKER = 1
    wrappers = []

    def prepare(capture_id):
        wrappers.append(connections["default"])  # the download thread's own
        return tasks.prepare_capture(capture_id)

    _, ids = pending_exam(northside, media_server, ["/0.jpg"])
    assert media_fetch.download_captures(ids, prepare, tasks.record_captures) == {"done": 1}
    time.sleep(0.5)
    # Whatever CONN_MAX_AGE (60 s on PostgreSQL), an idle thread holds no connection.
    assert len(wrappers) == 1 and wrappers[0].connection is None


def test_captures_not_started_within_the_budget_go_to_the_queue(
    media_server, settings, northside, monkeypatch
):
    queued = []
    monkeypatch.setattr(media_fetch, "queue_each", lambda ids: queued.extend(ids))
    monkeypatch.setattr(media_fetch, "budget_seconds", lambda: 0.0)
    _, ids = pending_exam(northside, media_server, [f"/{n}.jpg" for n in range(3)])
    assert media_fetch.download_captures(ids, *TASK) == {"queued": 3}
    assert sorted(queued) == sorted(ids) and media_server.requests == {}
