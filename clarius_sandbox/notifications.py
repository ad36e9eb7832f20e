"""Webhook delivery, the way Clarius does it: one POST, 10 s timeout, never retried.

Every attempt (and every deliberately dropped notification) becomes a notification record
(§6), so the portal's "records" view and its catch-up polling can be tested against a
sender that really loses notifications.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from dataclasses import dataclass

import requests

from .state import NotificationRecord, SandboxRequest, SandboxState, now

log = logging.getLogger(__name__)

DELIVERY_TIMEOUT = 10.0
RESPONSE_EXCERPT = 2000
DROPPED = "not delivered: dropped by the sandbox (fault injection)"


@dataclass
class _Delivery:
    generation: int
    request_uuid: str
    url: str
    content: str
    dropped: bool


class NotificationDispatcher:
    """Queues deliveries for a background worker, or sends inline when ``threaded`` is off."""

    def __init__(self, state: SandboxState, threaded: bool = True) -> None:
        self.state = state
        self.threaded = threaded
        self.timeout = DELIVERY_TIMEOUT
        self._queue: queue.Queue[_Delivery | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._drop_next = 0
        self._worker: threading.Thread | None = None

    def start(self) -> None:
        if self.threaded and self._worker is None:
            self._worker = threading.Thread(
                target=self._run, name="clarius-sandbox-notifications", daemon=True
            )
            self._worker.start()

    def stop(self) -> None:
        if self._worker is not None:
            self._queue.put(None)
            self._worker.join(timeout=self.timeout + 1)
            self._worker = None

    def reset(self) -> None:
        """Forget queued deliveries and dropped-count; in-flight ones are not recorded."""
        with self._idle:
            self._drop_next = 0
            self.timeout = DELIVERY_TIMEOUT
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    self._pending -= 1
                self._queue.task_done()
            self._idle.notify_all()

    def drop_next(self, count: int = 1) -> None:
        with self._idle:
            self._drop_next += count

    def notify(self, request: SandboxRequest) -> bool:
        """Send (or queue) the notification for ``request``; ``False`` if none is due."""
        with self.state.lock:
            url = self.state.settings["notification_url"]
            user = self.state.users[request.customer_id]
            if not url or not (user.confirmed or self.state.notify_unconfirmed):
                return False
            generation = self.state.generation
        content = json.dumps(request.notification_payload())
        with self._idle:
            dropped = self._drop_next > 0
            self._drop_next -= int(dropped)
            self._pending += 1
        delivery = _Delivery(generation, request.request_uuid, url, content, dropped)
        if self.threaded:
            self._queue.put(delivery)
        else:
            self._attempt(delivery)
        return True

    def wait_idle(self, timeout: float = 10) -> None:
        with self._idle:
            if not self._idle.wait_for(lambda: self._pending <= 0, timeout=timeout):
                raise TimeoutError(f"{self._pending} notification(s) still queued after {timeout}s")

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            try:
                if delivery is None:
                    return
                self._attempt(delivery)
            finally:
                self._queue.task_done()

    def _attempt(self, delivery: _Delivery) -> None:
        try:
            sent_at = now()
            response, error = None, None
            if delivery.dropped:
                error = DROPPED
            else:
                response, error = self._post(delivery)
            record = NotificationRecord(
                request_uuid=delivery.request_uuid,
                url=delivery.url,
                content=delivery.content,
                sent_at=sent_at,
                logged_at=now(),
                response=response,
                error=error,
            )
            with self.state.lock:
                # A reset while this was in flight started a new account: do not leak into it.
                if delivery.generation == self.state.generation:
                    self.state.add_record(record)
        finally:
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _post(self, delivery: _Delivery) -> tuple[dict | None, str | None]:
        # A session per attempt: inline deliveries may run on several threads at once.
        session = requests.Session()
        session.trust_env = False  # a proxy from the environment must not intercept
        try:
            answer = session.post(
                delivery.url,
                data=delivery.content.encode(),
                headers={"Content-Type": "application/json", "User-Agent": "ClariusCloud-Sandbox"},
                timeout=self.timeout,
                # A redirect is an answer like any other: recorded, not followed.
                allow_redirects=False,
            )
        except requests.Timeout:
            return None, "timed out"
        except requests.ConnectionError as e:
            return None, f"connection error: {_root_cause(e)}"
        except requests.RequestException as e:
            return None, f"request failed: {e}"
        finally:
            session.close()
        log.info("notification %s -> %s", delivery.request_uuid, answer.status_code)
        return {"status_code": answer.status_code, "content": answer.text[:RESPONSE_EXCERPT]}, None


def _root_cause(error: BaseException) -> str:
    while error.__context__ is not None and error.__context__ is not error:
        error = error.__context__
    return str(error) or type(error).__name__
