"""Benchmark: the quality gate over 1M standardised population rows against one hand-written
single-pass aggregate that computes the same counts, in the same run.

    .venv/bin/python bench/quality_gate.py [--rows 1000000] [--repeats 3]

Writes bench/results/quality_gate.json: gate_s (citylake's gate, single-pass engine, including
storing the GX validation result and building its Data Docs page), single_pass_s (the bare
aggregate), gate_over_single_pass, rules, and for reference gx_engine_s (GX computing the same
suite with its own Spark engine) and gx_over_single_pass. Times are medians of the repeats,
measured alternately on the same cached DataFrame after one unmeasured warm-up round.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITE = "standard.household_registration"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "quality_gate.json")
    return parser.parse_args(argv)


def population_rows(spark, rows: int):
    """Standardised population rows built in Spark: valid numbers with ~1% wrong check
    characters, ~0.5% missing, several birth-date formats, the city's division codes."""
    from pyspark.sql import functions as F

    from citylake import divisions, identity
    from citylake import contracts
    from citylake.standardise import map_columns, standardise

    codes = F.array(*[F.lit(code) for code in sorted(divisions.ALL)])
    surnames = F.array(*[F.lit(s) for s in "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"])
    n = F.col("id")
    birth = F.date_add(F.lit("1940-01-01").cast("date"), F.pmod(n * 7919, F.lit(29000)).cast("int"))
    first17 = F.concat(
        F.element_at(codes, (F.pmod(n, F.lit(len(divisions.ALL))) + 1).cast("int")),
        F.date_format(birth, "yyyyMMdd"),
        F.lpad(F.pmod(n, F.lit(1000)).cast("string"), 3, "0"),
    )
    check = identity._check_char_col(first17)
    wrong = F.when(check == "0", F.lit("1")).otherwise(F.lit("0"))
    number = (
        F.when(F.pmod(n, F.lit(200)) == 0, F.lit(None).cast("string"))
        .when(F.pmod(n, F.lit(100)) == 1, F.concat(first17, wrong))
        .otherwise(F.concat(first17, check))
    )
    raw = spark.range(rows).select(
        number.alias("identity_number"),
        F.concat(F.element_at(surnames, (F.pmod(n, F.lit(20)) + 1).cast("int")), F.lit("某")).alias("name"),
        F.when(F.pmod(n, F.lit(2)) == 1, F.lit("1")).otherwise(F.lit("2")).alias("sex"),
        F.when(F.pmod(n, F.lit(10)) == 0, F.lit("03")).otherwise(F.lit("01")).alias("ethnicity"),
        F.when(F.pmod(n, F.lit(5)) == 0, F.date_format(birth, "yyyyMMdd"))
        .otherwise(F.date_format(birth, "yyyy-MM-dd")).alias("birth_date"),
        F.lit("湖北省十堰市茅箭区人民路1号").alias("household_address"),
        F.element_at(codes, (F.pmod(n, F.lit(len(divisions.ALL))) + 1).cast("int")).alias("division_code"),
        F.lit("household_registration").alias("_source"),
        F.lit("household_registration/2026-11-23").alias("_batch_id"),
        F.lit("bench.csv").alias("_file"),
        (n + 2).cast("int").alias("_line_number"),
        F.current_timestamp().alias("_ingested_at"),
    )
    identity_mapping = {c: c for c in raw.columns if not c.startswith("_")}
    return standardise(map_columns(raw, identity_mapping), contracts.load("household_registration"))


def hand_written_single_pass(frame):
    """The same counts as the suite, written out by hand as one aggregate."""
    from pyspark.sql import functions as F

    def violations(condition):
        return F.sum(F.when(condition, 1).otherwise(0))

    ethnicity_ok = F.col("ethnicity").rlike("^(0[1-9]|[1-4][0-9]|5[0-6]|97|98)$")
    return frame.agg(
        F.count(F.lit(1)).alias("rows"),
        violations(F.col("identity_number").isNull()).alias("HR-001"),
        violations(~F.col("identity_number_valid")).alias("HR-002"),
        violations(F.col("name").isNull()).alias("HR-003"),
        violations(~F.col("sex").isin("0", "1", "2", "9")).alias("HR-004"),
        violations(F.col("birth_date").isNull()).alias("HR-005"),
        violations(~F.col("birth_date_matches_identity")).alias("HR-006"),
        violations(~F.col("division_code_known")).alias("HR-007"),
        violations(~ethnicity_ok).alias("HR-008"),
        violations(F.col("household_address").isNull()).alias("HR-009"),
        *[F.count(F.col(c)).alias(f"n_{c}") for c in (
            "identity_number_valid", "sex", "birth_date_matches_identity", "division_code_known", "ethnicity")],
    ).first()


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("CITYLAKE_DRIVER_MEMORY", "6g")
    os.environ.setdefault("CITYLAKE_SPARK_CONNECT", "in-process")  # the gate measured in one JVM of its own
    os.environ.setdefault("CITYLAKE_DRIVER_JAVA_OPTIONS", "-XX:+UseParallelGC")
    from citylake import quality, spark as citylake_spark
    from citylake.settings import load

    spark = citylake_spark.session("bench-quality-gate", load())
    frame = population_rows(spark, args.rows).persist()
    frame.count()
    _, rules = quality.load_suite(SUITE)
    times = {"gate": [], "single_pass": [], "gx": []}
    with tempfile.TemporaryDirectory() as gx_root:
        reference = hand_written_single_pass(frame)
        # one unmeasured round first: JIT and GX's first context are start-up, not the gate
        quality.run_gate(frame, SUITE, "bench-warm-up", Path(gx_root) / "single")
        quality.run_gate(frame, SUITE, "bench-warm-up", Path(gx_root) / "gx", engine="gx")
        for repeat in range(args.repeats):
            seconds, report = timed(lambda: quality.run_gate(frame, SUITE, f"bench-{repeat}", Path(gx_root) / "single"))
            times["gate"].append(seconds)
            seconds, _ = timed(lambda: hand_written_single_pass(frame))
            times["single_pass"].append(seconds)
            seconds, gx_report = timed(lambda: quality.run_gate(frame, SUITE, f"bench-gx-{repeat}", Path(gx_root) / "gx", engine="gx"))
            times["gx"].append(seconds)
            print(f"repeat {repeat}: gate {times['gate'][-1]:.2f}s, single pass {times['single_pass'][-1]:.2f}s, "
                  f"plain GX {times['gx'][-1]:.2f}s", file=sys.stderr)
    counted = {o.rule.rule_id: o.unexpected_count for o in report.outcomes if o.unexpected_count is not None}
    for rule_id, count in counted.items():
        if rule_id in reference.asDict() and reference[rule_id] != count:
            raise SystemExit(f"{rule_id}: gate counted {count}, the hand-written aggregate {reference[rule_id]}")
    gx_counted = {o.rule.rule_id: o.unexpected_count for o in gx_report.outcomes if o.unexpected_count is not None}
    if gx_counted != counted:
        raise SystemExit(f"plain GX counted {gx_counted}, the gate {counted}")
    median = {key: statistics.median(values) for key, values in times.items()}
    figures = {
        "rows": args.rows,
        "rules": len(rules),
        "repeats": args.repeats,
        "gate_s": round(median["gate"], 3),
        "single_pass_s": round(median["single_pass"], 3),
        "gate_over_single_pass": round(median["gate"] / median["single_pass"], 3),
        "gx_engine_s": round(median["gx"], 3),
        "gx_over_single_pass": round(median["gx"] / median["single_pass"], 3),
        "spark_master": spark.sparkContext.master,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
