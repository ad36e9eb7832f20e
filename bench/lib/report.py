"""Reporting for the benchmarks: percentiles, fixed-width tables, a prefixed progress log."""

from __future__ import annotations

import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

NAN = float("nan")


def log(message: str) -> None:
    """A progress line, prefixed with the benchmark's name: ``[bench_webhook] ...``."""
    print(f"[{Path(sys.argv[0]).stem}] {message}", flush=True)


def median_or_nan(values) -> float:
    """The median of the values that are not None; NaN if there are none."""
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else NAN


def percentile(values, fraction: float):
    """The value at ``fraction`` (0..1) of the sorted values: the nearest rank of n - 1."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def percentile_of_sorted(ordered: list, fraction: float):
    """The value at ``fraction`` of already sorted values: rank ⌊fraction × n⌋, as a load
    generator counts (p99 of 100 requests is the slowest)."""
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass(frozen=True)
class Column:
    """One column of a ``Table``: its title, width, value format (``".1f"``, ``","``...),
    left-aligned or not, the spaces before it and a suffix inside its width (``"×"``)."""

    title: str
    width: int
    spec: str = ""
    left: bool = False
    gap: int = 1
    suffix: str = ""

    def _align(self) -> str:
        return "<" if self.left else ">"

    def head(self) -> str:
        return format(self.title, f"{self._align()}{self.width}")

    def cell(self, value) -> str:
        return format(value, f"{self._align()}{self.width - len(self.suffix)}{self.spec}") + (
            self.suffix
        )


class Table:
    """Fixed-width rows: ``print(table.header())``, then ``print(table.row(*values))``."""

    def __init__(self, *columns: Column) -> None:
        self.columns = columns

    def _join(self, cells: list[str]) -> str:
        line = cells[0]
        for column, cell in zip(self.columns[1:], cells[1:], strict=True):
            line += " " * column.gap + cell
        return line

    def header(self) -> str:
        return self._join([c.head() for c in self.columns])

    def row(self, *values) -> str:
        return self._join([c.cell(v) for c, v in zip(self.columns, values, strict=True)])
