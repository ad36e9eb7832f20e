"""Meters: CPU seconds by kind of process, and this process's peak memory growth."""

from __future__ import annotations

import os
import resource
import sys
import threading
from collections.abc import Callable


class CpuMeter:
    """CPU seconds used by a server (its process group), PostgreSQL and the load generator.

    Linux ``/proc`` only (elsewhere the columns stay empty). Processes that exit during a
    measurement are not counted, but gunicorn's workers and the persistent database
    connections live through it; the load generator is counted through ``getrusage`` of
    the children this process reaped.
    """

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, server_pgid: int, postmaster_pid: int | None) -> None:
        self.server_pgid = server_pgid
        self.postmaster_pid = postmaster_pid
        self.available = os.path.isdir("/proc/self") and postmaster_pid is not None

    def _snapshot(self) -> dict[str, float]:
        totals = {"server": 0.0, "db": 0.0}
        if self.available:
            for entry in os.scandir("/proc"):
                if not entry.name.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry.name}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                ppid, pgid = int(fields[1]), int(fields[2])
                cpu = (int(fields[11]) + int(fields[12])) / self.TICK
                if pgid == self.server_pgid:
                    totals["server"] += cpu
                elif int(entry.name) == self.postmaster_pid or ppid == self.postmaster_pid:
                    totals["db"] += cpu
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        totals["client"] = usage.ru_utime + usage.ru_stime
        return totals

    def measure(self, work: Callable) -> tuple[dict, dict[str, float]]:
        """``work()``'s result, and the CPU seconds spent meanwhile by kind."""
        before = self._snapshot()
        result = work()
        after = self._snapshot()
        return result, {k: after[k] - before[k] for k in after}


def max_rss_bytes() -> int:
    """This process's peak RSS so far (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class RssSampler:
    """Samples the current RSS every few ms (Linux /proc); ``growth`` is max − start.

    ru_maxrss alone would hide growth that stays under the peak reached while importing,
    so the sampler is used where /proc exists and ru_maxrss is only a cross-check.
    """

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.start = self.peak = self.current()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> int:
        try:
            with open("/proc/self/statm") as statm:
                return int(statm.read().split()[1]) * self.page
        except OSError:
            return max_rss_bytes()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())

    @property
    def growth(self) -> int:
        return max(0, self.peak - self.start)
