"""Run every benchmark in this folder (``bench_*.py``), each in its own process.

Each benchmark prints its figures as ratios against a baseline measured in the same run,
so the numbers hold on a noisy machine. Exit status is non-zero if any benchmark fails
or misses its target.
"""

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv):
    names = argv[1:]
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if any(n in s.stem for n in names)]
    failed = []
    for script in scripts:
        print(f"== {script.stem} ==", flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent)
        print(f"-- {script.stem}: exit {result.returncode} in {time.monotonic() - started:.1f}s\n")
        if result.returncode:
            failed.append(script.stem)
    if failed:
        print("Failed: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
