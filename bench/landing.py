"""Benchmark: generate a city and land every department's night of it, at two sizes.

    .venv/bin/python bench/landing.py [--sizes 100000 1000000] [--seed 7]

For each size: ``citylake generate`` (timed, as a process of its own, with its peak memory),
then one Spark application (local[2], as the nightly's jobs run) lands every source in turn with
jobs/land.py's ``land`` and reads the ledger. Writes bench/results/landing.json with, per size,
the rows read, landed and quarantined, generation and landing seconds, and at the top level:

  rows_per_s_100k, rows_per_s_1m   rows read / seconds spent in land() over all sources (the
                                   application's start-up, about 30 s of JVM and Delta, is
                                   reported apart as spark_start_s)
  generate_s_1m                    wall time of `citylake generate` for 1M residents
  peak_rss_gb_1m                   the largest resident set of any process of the 1M run
                                   (the generator's process tree; the Spark driver JVM, from its
                                   /proc VmHWM, as it is no reaped child)
  accounted_share                  (landed + quarantined) / read over every source and size

The departments' PostgreSQL (infra/postgres.sh) is started on a free port for the run and stopped
after; working files go to a temporary folder that is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from city_runs import city_environment, departments_db, result_of

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NIGHT = "2026-11-23"

LAND_ALL = """
import importlib.util, json, os, sys, time
os.environ.setdefault("CITYLAKE_SPARK_CONNECT", "in-process")  # landing measured in a JVM of its own
start = time.perf_counter()
from citylake import contracts, job
spec = importlib.util.spec_from_file_location("land", "jobs/land.py")
land = importlib.util.module_from_spec(spec); spec.loader.exec_module(land)
settings, spark = job.start("bench-landing")
spark.range(1).count()
started = time.perf_counter() - start
per_source = {}
for name in contracts.load_all():
    t = time.perf_counter()
    counts = land.land(spark, settings, name, sys.argv[1], "bench")
    per_source[name] = {"rows_read": counts["rows_read"], "rows_landed": counts["rows_landed"],
                        "rows_quarantined": counts["rows_quarantined"],
                        "seconds": round(time.perf_counter() - t, 2)}
# the driver JVM is not a reaped child of this process: its peak resident set from /proc
jvm = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
peak_kb = next(int(l.split()[1]) for l in open(f"/proc/{jvm}/status") if l.startswith("VmHWM"))
print("RESULT " + json.dumps({"spark_start_s": round(started, 1), "jvm_peak_rss_gb": round(peak_kb / 1024 / 1024, 2),
                              "sources": per_source}))
"""


# Runs a command and reports the peak resident set of its whole process tree (Linux folds the
# largest reaped descendant into RUSAGE_CHILDREN), so each phase is measured on its own.
PEAK_OF = (
    "import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
    "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
    "sys.exit(code)"
)


def _run(command: list[str], env: dict[str, str]) -> tuple[subprocess.CompletedProcess, float, float]:
    """Runs a command; returns it, its wall seconds and the peak RSS (GB) of its process tree."""
    with tempfile.NamedTemporaryFile(suffix=".rss") as peak_file:
        started = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", PEAK_OF, peak_file.name, *command], cwd=ROOT,
                                env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"{' '.join(command[:3])} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
        peak_kb = int(Path(peak_file.name).read_text() or 0)
    return result, seconds, peak_kb / 1024 / 1024


def measure(people: int, seed: int, work: Path) -> dict:
    env = city_environment(work)
    python = str(ROOT / ".venv" / "bin" / "python")
    with departments_db(env):
        generated, generate_s, generate_rss = _run(
            [str(ROOT / ".venv" / "bin" / "citylake"), "generate", "--people", str(people), "--seed",
             str(seed), "--date", NIGHT, "--no-progress"], env)
        landed, land_wall_s, land_rss = _run([python, "-c", LAND_ALL, NIGHT], env)
    result = result_of(landed.stdout)
    sources = result["sources"]
    read = sum(s["rows_read"] for s in sources.values())
    accounted = sum(s["rows_landed"] + s["rows_quarantined"] for s in sources.values())
    land_s = sum(s["seconds"] for s in sources.values())
    return {
        "people": people,
        "records_generated": int(generated.stdout.strip().splitlines()[-1].split()[0]),
        "rows_read": read,
        "rows_accounted": accounted,
        "generate_s": round(generate_s, 1),
        "generate_peak_rss_gb": round(generate_rss, 2),
        "spark_start_s": result["spark_start_s"],
        "land_s": round(land_s, 1),
        "land_wall_s": round(land_wall_s, 1),
        "land_peak_rss_gb": round(max(land_rss, result["jvm_peak_rss_gb"]), 2),
        "rows_per_s": round(read / land_s),
        "sources": sources,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "landing.json")
    args = parser.parse_args(argv)
    runs = {}
    for people in args.sizes:
        work = Path(tempfile.mkdtemp(prefix=f"citylake-bench-landing-{people}-", dir="/tmp"))
        try:
            runs[people] = measure(people, args.seed, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        run = runs[people]
        print(f"{people:>9} residents: {run['rows_read']} rows, generated in {run['generate_s']}s, "
              f"landed in {run['land_s']}s = {run['rows_per_s']} rows/s "
              f"(peak RSS generate {run['generate_peak_rss_gb']} GB, land {run['land_peak_rss_gb']} GB)")
    read = sum(r["rows_read"] for r in runs.values())
    summary = {
        "machine": f"{os.cpu_count()} cores, Spark local[2]",
        "accounted_share": sum(r["rows_accounted"] for r in runs.values()) / read,
    }
    for people, run in runs.items():
        label = {100_000: "100k", 1_000_000: "1m"}.get(people, str(people))
        summary[f"rows_per_s_{label}"] = run["rows_per_s"]
        summary[f"generate_s_{label}"] = run["generate_s"]
        summary[f"peak_rss_gb_{label}"] = max(run["generate_peak_rss_gb"], run["land_peak_rss_gb"])
    summary["runs"] = runs
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
