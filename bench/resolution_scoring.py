"""Benchmark: entity-resolution scoring throughput, candidate pairs scored per second, on the
Spark session citylake uses (local[2] locally).

    .venv/bin/python bench/resolution_scoring.py [--people 50000] [--repeats 3]

A generated city's person records (household registration, birth and death certificates, the
courts' debtors: citylake/resolution/truth_tables.py). The model (m, u, thresholds) is fitted with
resolution/person.yaml as shipped; the pairs are then scored with identifiers switched off (so
every candidate pair is scored, not only those with an unidentified record) and one loose
blocking rule, birth year and sex, so there are millions of candidate pairs. Measured, each as
the median of the repeats after one unmeasured warm-up:

  engine_pairs_per_second    citylake's scoring pass (resolution/engine.py score): the blocking
                             self-join, every comparison a CASE over precomputed feature columns
                             giving its log2 weight, summed, pairs at or above the review weight
                             kept (checkpointed)
  em_pass_pairs_per_second   the EM pass over the same pairs: pattern codes counted
  baseline_pairs_per_second  a hand-written Spark SQL scorer for comparison (hand_written_scorer):
                             the candidate pairs (two row ids) materialised first (not timed),
                             then joined to the records twice and scored with the same
                             comparisons and weights written the plain way (string equality,
                             levenshtein)

Each is given per wall-clock second and per CPU second of the Spark JVM (its user + system time
from /proc): on a shared machine the wall clock mostly measures the other tenants, and
2 x pairs per CPU second is what local[2] reaches with both cores to itself. The load average
during the run is recorded beside them.

Writes bench/results/resolution_scoring.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--city", type=Path, default=None, help="a folder to keep the generated city in")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "resolution_scoring.json")
    return parser.parse_args(argv)


def city(people: int, seed: int, folder: Path) -> tuple[Path, Path, str]:
    from citylake import generator

    night = dt.date(2026, 11, 23)
    incoming, truth = folder / "incoming", folder / "truth"
    if not (truth / f"{night}" / "manifest.json").exists():
        generator.generate(people, seed, night, incoming, truth,
                           sources=["household_registration", "birth_certificates", "death_certificates",
                                    "dishonest_debtors"])
    return incoming, truth, f"{night}"


def bench_config():
    from citylake.resolution import load_config, parse_config

    document = load_config("person").model_dump(exclude_none=True)
    document["identifiers"] = []
    document["conflicts"] = {"disagree_on": []}
    document["blocking"] = {"max_block_size": 100_000, "oversized": "drop",
                            "rules": [{"name": "birth_year_sex", "keys": ["birth_date_year", "sex"]}]}
    document["em"]["random_pairs"] = 200_000
    return parse_config(document, "bench: resolution/person.yaml, identifiers off, birth year + sex blocking")


def hand_written_scorer(model) -> str:
    """The same comparisons written the plain way: string equality and edit distances on the
    joined records' columns, the weights as CASE literals, summed, filtered at the review weight."""
    w = {c.name: c.weights for c in model.comparisons}

    def case(name: str, null: str, levels: list[str]) -> str:
        branches = " ".join(f"WHEN {condition} THEN {weight}" for condition, weight in zip(levels, w[name]))
        return f"(CASE WHEN {null} THEN 0.0 {branches} ELSE {w[name][-1]} END)"

    name = case("name", "l.name IS NULL OR r.name IS NULL", [
        "l.name = r.name", "l.name_pinyin = r.name_pinyin", "levenshtein(l.name, r.name) <= 1",
        "l.name_surname_pinyin = r.name_surname_pinyin"])
    birth = case("birth_date", "l.birth_date IS NULL OR r.birth_date IS NULL", [
        "l.birth_date = r.birth_date",
        "(year(l.birth_date) = year(r.birth_date) AND (month(l.birth_date) = month(r.birth_date) "
        "OR day(l.birth_date) = day(r.birth_date))) OR (month(l.birth_date) = month(r.birth_date) "
        "AND day(l.birth_date) = day(r.birth_date))",
        "abs(datediff(l.birth_date, r.birth_date)) <= 366"])
    sex = case("sex", "l.sex IS NULL OR r.sex IS NULL", ["l.sex = r.sex"])
    place = case("place", "(l.address IS NULL AND l.division_code IS NULL) OR (r.address IS NULL AND r.division_code IS NULL)", [
        "l.address = r.address", "l.division_code = r.division_code",
        "left(l.division_code, 4) = left(r.division_code, 4)"])
    number = case("identity_number", "l.identity_number IS NULL OR r.identity_number IS NULL", [
        "NOT l.identity_number_masked AND NOT r.identity_number_masked "
        "AND left(l.identity_number, 17) = left(r.identity_number, 17)",
        "(l.identity_number_masked OR r.identity_number_masked) AND startswith(l.identity_number, r.identity_number_head) "
        "AND endswith(l.identity_number, r.identity_number_tail)",
        "levenshtein(l.identity_number, r.identity_number) <= 2"])
    return (f"SELECT * FROM (SELECT p.l_id, p.r_id, {name} + {birth} + {sex} + {place} + {number} AS weight "
            f"FROM bench_pairs p JOIN bench_records l ON l.__rid = p.l_id JOIN bench_records r ON r.__rid = p.r_id) "
            f"WHERE weight >= {model.review_weight}")


def jvm_cpu_seconds() -> float:
    """User + system CPU time of this process's children (the Spark JVM), from /proc."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == os.getpid():
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def timed(action) -> tuple[float, float]:
    """(wall seconds, JVM CPU seconds) of one run."""
    cpu, started = jvm_cpu_seconds(), time.perf_counter()
    action()
    return time.perf_counter() - started, jvm_cpu_seconds() - cpu


def main(argv=None) -> int:
    args = parse_args(argv)
    from pyspark.sql import functions as F

    from citylake.resolution import engine, load_config, truth_tables
    from citylake.resolution.features import RID
    from citylake.spark import session

    from citylake.settings import COMPILE_HUGE_METHODS, DRIVER_JAVA_OPTIONS

    # as the base libraries' jobs run (citylake/orchestration.py); set it to compare without
    os.environ.setdefault("CITYLAKE_DRIVER_JAVA_OPTIONS", f"{DRIVER_JAVA_OPTIONS} {COMPILE_HUGE_METHODS}")
    os.environ.setdefault("CITYLAKE_SPARK_CONNECT", "in-process")  # the scorer measured in one JVM of its own
    spark = session("bench-resolution")
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.city or Path(scratch)
        incoming, truth, night = city(args.people, args.seed, folder)
        records = truth_tables.person_table(spark, incoming, truth, night).localCheckpoint()
        shipped = load_config("person")
        fitted = engine.prepare(records, shipped)
        model, _ = engine.fit_model(fitted, shipped, fitted.keyed.count())
        config = bench_config()
        prepared = engine.prepare(records, config)
        count = prepared.keyed.count()
        pairs = prepared.keyed.groupBy("__bk0").count().where("__bk0 IS NOT NULL").selectExpr(
            "sum(count * (count - 1) / 2)").first()[0]
        pairs = int(pairs)

        def em_pass():
            engine.pattern_counts(prepared, config)

        def engine_pass():
            scored, _ = engine.score(prepared, config, model, known_pairs=pairs)
            scored.count()

        # the baseline: pairs first, then the records joined to them twice, scored in plain SQL
        keyed = prepared.keyed
        candidate = (keyed.alias("l").join(keyed.alias("r"), (F.col("l.__bk0") == F.col("r.__bk0"))
                                           & (F.col(f"l.{RID}") < F.col(f"r.{RID}")))
                     .select(F.col(f"l.{RID}").alias("l_id"), F.col(f"r.{RID}").alias("r_id"))).localCheckpoint()
        candidate.createOrReplaceTempView("bench_pairs")
        keyed.createOrReplaceTempView("bench_records")
        baseline_sql = hand_written_scorer(model)

        def baseline_pass():
            spark.sql(baseline_sql).localCheckpoint().count()

        results = {}
        loads = [os.getloadavg()[0]]
        for name, action in (("engine", engine_pass), ("em_pass", em_pass), ("baseline", baseline_pass)):
            action()  # warm-up
            runs = [timed(action) for _ in range(args.repeats)]
            loads.append(os.getloadavg()[0])
            seconds = statistics.median(wall for wall, _ in runs)
            cpu = statistics.median(cpu for _, cpu in runs)
            results[name] = {"seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
                             "pairs_per_second": round(pairs / seconds),
                             "pairs_per_cpu_second": round(pairs / cpu) if cpu else None}
            print(f"{name:<10} {seconds:7.2f} s  {pairs / seconds:12,.0f} pairs/s   "
                  f"{cpu:7.2f} cpu-s  {pairs / cpu if cpu else 0:12,.0f} pairs/cpu-s", flush=True)

    document = {
        "people": args.people, "records": count, "candidate_pairs": pairs,
        "blocking": "birth year + sex (identifiers off: every pair scored)",
        "comparisons": [c.name for c in prepared.comparisons],
        "spark_master": spark.sparkContext.master,
        "driver_java_options": spark.conf.get("spark.driver.extraJavaOptions", ""),
        "repeats": args.repeats,
        "engine_pairs_per_second": results["engine"]["pairs_per_second"],
        "em_pass_pairs_per_second": results["em_pass"]["pairs_per_second"],
        "baseline_pairs_per_second": results["baseline"]["pairs_per_second"],
        "engine_pairs_per_cpu_second": results["engine"]["pairs_per_cpu_second"],
        "em_pass_pairs_per_cpu_second": results["em_pass"]["pairs_per_cpu_second"],
        "baseline_pairs_per_cpu_second": results["baseline"]["pairs_per_cpu_second"],
        "engine_over_baseline": round(results["baseline"]["seconds"] / results["engine"]["seconds"], 2),
        "load_average": [round(load, 2) for load in loads],
        "runs": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(document, indent=2) + "\n")
    print(json.dumps(document, indent=2))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
