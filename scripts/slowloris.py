#!/usr/bin/env python3
"""A bounded slow-client probe: does a page still answer while slow clients hold connections?

Opens N connections to a loopback server and trickles request-header bytes down each one,
never finishing the headers, for at most --seconds; meanwhile it times one ordinary GET.
A server with one process per request (gunicorn's sync workers) is stuck reading the slow
headers and the GET waits; a buffering front server (nginx) answers it at once.

    python scripts/slowloris.py --port 8080 --connections 10 --max-seconds 1

Exit status 1 when --max-seconds is given and the GET took longer or did not answer 200.
Only loopback addresses are accepted: this is a test of one's own deployment.
Stdlib only, so it runs with any python3; tests/test_proxy_slowloris.py imports it.
"""

import argparse
import http.client
import ipaddress
import socket
import sys
import threading
import time


def require_loopback(host: str) -> None:
    address = ipaddress.ip_address(socket.gethostbyname(host))
    if not address.is_loopback:
        raise ValueError(f"{host} is not a loopback address: the probe only runs locally")


class Trickle:
    """N connections sending a header line's worth of bytes every ``interval`` seconds.

    Stops by itself after ``seconds`` (and in any case on leaving the ``with`` block).
    ``held`` counts the connections the server still keeps open; ``dropped`` the ones it
    closed or refused.
    """

    def __init__(self, host, port, connections=10, interval=0.5, seconds=10.0):
        require_loopback(host)
        self.host, self.port = host, port
        self.connections, self.interval, self.seconds = connections, interval, seconds
        self.sockets: list[socket.socket] = []
        self.dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slowloris", daemon=True)

    @property
    def held(self) -> int:
        return len(self.sockets)

    def __enter__(self):
        for _ in range(self.connections):
            try:
                sock = socket.create_connection((self.host, self.port), timeout=2)
                sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {self.host}\r\n".encode())
            except OSError:
                self.dropped += 1
                continue
            self.sockets.append(sock)
        self._thread.start()
        return self

    def _run(self):
        deadline = time.monotonic() + self.seconds
        n = 0
        while not self._stop.wait(self.interval) and time.monotonic() < deadline:
            n += 1
            for sock in list(self.sockets):
                try:
                    sock.sendall(f"X-Slow-{n}: {n}\r\n".encode())
                except OSError:
                    self.sockets.remove(sock)
                    self.dropped += 1
                    sock.close()

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()
        return False


def timed_get(host, port, path="/healthz", host_header=None, timeout=5.0):
    """``(status or None, seconds)`` for one GET; None when it failed or timed out."""
    started = time.monotonic()
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"Host": host_header} if host_header else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        status = response.status
    except OSError:
        status = None
    finally:
        connection.close()
    return status, time.monotonic() - started


def probe(
    host, port, *, connections=10, seconds=5.0, settle=1.0, path="/healthz", host_header=None
):
    """Trickle ``connections`` slow clients, wait ``settle`` s, then time one GET of ``path``
    (which gives up once the trickling ends). Returns a dict of what happened."""
    with Trickle(host, port, connections=connections, seconds=seconds) as trickle:
        time.sleep(settle)
        status, elapsed = timed_get(host, port, path, host_header, timeout=seconds - settle)
        held = trickle.held
    return {
        "connections": connections,
        "held": held,
        "dropped": trickle.dropped,
        "status": status,
        "seconds": elapsed,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=5.0, help="how long to trickle")
    parser.add_argument("--settle", type=float, default=1.0, help="wait before the GET")
    parser.add_argument("--path", default="/healthz")
    parser.add_argument("--host-header", help="Host header of the timed GET")
    parser.add_argument("--max-seconds", type=float, help="fail if the GET takes longer")
    parser.add_argument("--label", default="server")
    args = parser.parse_args(argv)
    if args.seconds <= args.settle:
        parser.error("--seconds must be longer than --settle")
    result = probe(
        args.host,
        args.port,
        connections=args.connections,
        seconds=args.seconds,
        settle=args.settle,
        path=args.path,
        host_header=args.host_header,
    )
    status = result["status"] or f"no answer within {args.seconds - args.settle:.0f} s"
    print(
        f"[slowloris] {args.label}: {result['held']} of {args.connections} slow connections "
        f"held open; GET {args.path} -> {status} in {result['seconds']:.3f} s"
    )
    if args.max_seconds is not None and (
        result["status"] != 200 or result["seconds"] > args.max_seconds
    ):
        print(
            f"[slowloris] {args.label}: expected 200 within {args.max_seconds} s", file=sys.stderr
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
