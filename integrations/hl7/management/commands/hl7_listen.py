"""``python manage.py hl7_listen --port 2575``: an MLLP listener that prints each HL7
message it receives, readably, and answers AA (AE when it is not a valid 2.5.1
ORU^R01). The demo runs it as the Demo Clinic's EHR so people see results arrive."""

from __future__ import annotations

import threading

from django.core.management.base import BaseCommand

from integrations.hl7 import listener as hl7_listener
from integrations.hl7.results import DEFAULT_PORT


class Command(BaseCommand):
    help = "Listen for HL7 v2 messages over MLLP and print each one as it arrives."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=DEFAULT_PORT)
        parser.add_argument(
            "--host", default="127.0.0.1", help="The address to listen on (127.0.0.1)."
        )
        parser.add_argument(
            "--raw", action="store_true", help="Print each message's segments as sent too."
        )
        parser.add_argument(
            "--count", type=int, default=0, help="Stop after this many messages (0: never)."
        )

    def handle(self, *args, port, host, count, raw, **options):
        done = threading.Event()
        lock = threading.Lock()
        seen = [0]

        def on_message(received):
            with lock:
                self.stdout.write(hl7_listener.readable(received, raw=raw))
                self.stdout.flush()
                seen[0] += 1
                if count and seen[0] >= count:
                    done.set()

        server = hl7_listener.serve(host, port, on_message)
        self.stdout.write(f"Listening for HL7 over MLLP on {host}:{server.port} (Ctrl-C stops).")
        self.stdout.flush()
        try:
            done.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
