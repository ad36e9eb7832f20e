"""The hostile-input suite as a figure: how many generated cases it ran, on each engine.

Runs ``tests/hostile/`` (the property-based tests over every parser that takes outside
input) with Hypothesis' statistics on SQLite and on a throwaway PostgreSQL, and prints
per engine the cases run, the cases Hypothesis generated but discarded as invalid, the
failures (the target is 0), and the cases run against the profile's budget
(``max_examples`` x property tests; a property over a small input space may finish
early, which is why the budget is a ceiling rather than the target).

    python bench/bench_hostile.py [--profile ci|dev|thorough]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

# Run as a script, this folder comes first on sys.path; its modules must only ever be
# imported as bench.<name>.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from bench.lib import ROOT  # noqa: E402
from bench.lib.pg import PostgresUnavailable, TempPostgres  # noqa: E402

# Not inside a run of digits: a falsifying example may print a number of a million digits,
# which an unanchored (\d+) would scan in quadratic time.
STATS = re.compile(r"(?<!\d)(\d+) passing, (\d+) failing, and (\d+) invalid test cases?")
PHASE = re.compile(r"^\s*- during (\w+) phase")
BUDGET = {"ci": 60, "dev": 40, "thorough": 1000}


def run_suite(env: dict[str, str], profile: str) -> dict[str, float]:
    """Run the suite once; sum Hypothesis' statistics over its generate phases."""
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "hostile",
            "--hypothesis-show-statistics",
            "tests/hostile",
        ],
        cwd=ROOT,
        env={**env, "HYPOTHESIS_PROFILE": profile},
        capture_output=True,
        text=True,
    )
    elapsed = time.monotonic() - started
    passing = failing = invalid = 0
    tests = 0
    phase = ""
    for line in result.stdout.splitlines():
        found = PHASE.match(line)
        if found:
            phase = found.group(1)
            continue
        found = STATS.search(line)
        if found:
            passing += int(found.group(1))
            failing += int(found.group(2))
            invalid += int(found.group(3))
            if phase == "generate":
                tests += 1
    summary = result.stdout.strip().splitlines()[-1:] or ["(no output)"]
    return {
        "returncode": result.returncode,
        "cases": passing + failing,
        "failing": failing,
        "invalid": invalid,
        "tests": tests,
        "seconds": elapsed,
        "summary": summary[0],
        "tail": "\n".join(result.stdout.splitlines()[-30:]) + result.stderr[-2000:],
    }


def report(engine: str, figures: dict, profile: str) -> bool:
    budget = BUDGET.get(profile, 0) * max(figures["tests"], 1)
    ratio = figures["cases"] / budget if budget else 0.0
    print(f"{engine}: {figures['summary']}")
    print(
        f"  {figures['cases']:,} cases run in {figures['tests']} property tests "
        f"({figures['invalid']:,} generated inputs discarded as invalid), "
        f"{figures['seconds']:.1f} s"
    )
    print(
        f"  cases run / budget ({BUDGET.get(profile)} x {figures['tests']}): {ratio:.2f}"
        f"  failures: {figures['failing']} (target 0)"
    )
    ok = figures["returncode"] == 0 and figures["failing"] == 0
    if not ok:
        print(figures["tail"])
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="ci", choices=sorted(BUDGET))
    args = parser.parse_args()
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "TEST_POSTGRES")}
    base["CI"] = ""
    ok = report("SQLite", run_suite(base, args.profile), args.profile)
    try:
        with TempPostgres(durable=False) as pg:
            env = {**base, "DATABASE_URL": pg.url, "TEST_POSTGRES": "1"}
            ok = report("PostgreSQL", run_suite(env, args.profile), args.profile) and ok
    except PostgresUnavailable as e:
        print(f"PostgreSQL: not run ({e})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
