"""Benchmark: how well theme.person_profile hides who a person is, for every person of a city.

    .venv/bin/python bench/masking.py [--people 100000] [--seed 7]

A city is generated (citylake.generator.city), its residents made golden records, and the
analysts' table built from them by the nightly's own transform (curated.person_profile). For each
person the bench counts the valid identity numbers (GB 11643: a real division code, a real birth
date no later than the night, a sequence, its check character) consistent with everything an
analyst sees of that person in the table: the identity number's division, birth year, age band
and sex (the pseudonym is keyed: without the key it narrows nothing). Each (date, sequence) gives
exactly one valid number, so the count is exact. The same count is made for the masking before it
(first four and last four characters of the number beside division_code and birth_year) for
comparison (over every real division code with the shown first four digits, and, the likelier
guess, with the division the person lives in). Writes bench/results/masking.json: min_candidates, median_candidates (the target:
min at least 10,000), and the same for the old masking, with the share of persons the true number
is among the candidates (must be 1.0: the count is of what the analyst cannot rule out).
"""

from __future__ import annotations

import argparse
import calendar
import json
import statistics
import sys
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from citylake import identity  # noqa: E402

# the check character is (sum of weight x digit) mod 11 over the 17 digits: the division's,
# the date's and the sequence's parts add up
DIVISION_WEIGHTS, DATE_WEIGHTS, SEQUENCE_WEIGHTS = identity.WEIGHTS[:6], identity.WEIGHTS[6:14], identity.WEIGHTS[14:]


def _residue(digits: str, weights) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights)) % 11


def _dates(year: int, night: date) -> list[date]:
    last = min(date(year, 12, 31), night)
    return [date(year, 1, 1) + timedelta(days=n) for n in range((last - date(year, 1, 1)).days + 1)]


def candidates_now(division: str, birth_year: int, sex: str, age_band: str, night: date, band_of) -> int:
    """Valid numbers with this division and birth year, a sequence of this sex's parity, whose
    birth year gives this age band."""
    if band_of(night.year - birth_year) != age_band:
        return 0
    sequences = sum(1 for n in range(1000) if (n % 2 == 1) == (sex == "1"))
    return len(_dates(birth_year, night)) * sequences


def candidates_before(masked: str, birth_year: int, divisions_by_prefix: dict, night: date) -> int:
    """Valid numbers with the shown first four and last four characters and birth year, over every
    real division code with those four first digits."""
    prefix, sequence, check = masked[:4], masked[-4:-1], masked[-1]
    wanted = identity.CHECK_CHARS.index(check)
    by_division = Counter(_residue(code, DIVISION_WEIGHTS) for code in divisions_by_prefix.get(prefix, ()))
    by_date = Counter(_residue(f"{d:%Y%m%d}", DATE_WEIGHTS) for d in _dates(birth_year, night))
    rest = _residue(sequence, SEQUENCE_WEIGHTS)
    return sum(n * by_date[(wanted - rest - r) % 11] for r, n in by_division.items())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--night", default="2026-11-23")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "masking.json")
    args = parser.parse_args(argv)
    night = date.fromisoformat(args.night)

    from pyspark.sql import functions as F

    from citylake import curated, divisions
    from citylake import settings as citylake_settings
    from citylake.generator import city as city_model
    from citylake.spark import session

    started = time.perf_counter()
    city = city_model.build(args.people, args.seed, night)
    people = [p for p in city.people if identity.is_valid(p.identity_number)]
    generated_s = time.perf_counter() - started
    spark = session("bench-masking", citylake_settings.load())
    population = spark.createDataFrame(
        [(p.key, p.identity_number, p.name, p.sex, p.birth, p.division, p.died is None, ["household_registration"])
         for p in people],
        "person_id string, identity_number string, name string, sex string, birth_date date, "
        "division_code string, alive boolean, sources array<string>")
    credit = spark.createDataFrame([], "person_id string, penalties int, dishonest_cases int, dishonest boolean")
    profile = curated.person_profile(population, credit, args.night, b"bench-key")
    before = population.select("person_id", identity.mask_col(F.col("identity_number")).alias("masked"),
                               F.year("birth_date").alias("birth_year"), "division_code")
    shown = {r.person_id: r for r in profile.collect()}
    old = {r.person_id: r for r in before.collect()}
    truth = {p.key: p.identity_number for p in people}

    def band_of(age: int) -> str | None:
        return next((label for low, high, label in curated.AGE_BANDS if low <= age <= high), None)

    codes = sorted(divisions.national() | set(divisions.ALL))
    by_prefix: dict[str, list[str]] = {}
    for code in codes:
        by_prefix.setdefault(code[:4], []).append(code)

    now, then, then_at_home, covered = [], [], [], 0
    for key, row in shown.items():
        count = candidates_now(row.identity_division, row.birth_year, row.sex, row.age_band, night, band_of)
        number = truth[key]
        # the true number is among the candidates: its division, year, parity and band fit
        covered += (number[:6] == row.identity_division and int(number[6:10]) == row.birth_year
                    and (int(number[16]) % 2 == 1) == (row.sex == "1") and count > 0)
        now.append(count)
        then.append(candidates_before(old[key].masked, old[key].birth_year, by_prefix, night))
        # the analyst's likelier guess: the number was issued where the person lives
        home = {old[key].masked[:4]: [old[key].division_code]}
        then_at_home.append(candidates_before(old[key].masked, old[key].birth_year, home, night) or then[-1])
    result = {
        "people": args.people, "persons_measured": len(now), "night": args.night,
        "shown": ["person_key", "identity_division", "birth_year", "age_band", "sex", "division_code", "district"],
        "min_candidates": min(now), "median_candidates": statistics.median(now),
        "true_number_among_candidates": covered / len(now),
        "before": {"shown": ["identity_number (first 4, last 4)", "division_code", "birth_year"],
                   "min_candidates": min(then), "median_candidates": statistics.median(then),
                   "persons_under_10000": sum(c < 10_000 for c in then) / len(then),
                   "median_candidates_if_issued_at_home": statistics.median(then_at_home)},
        "division_codes_known": len(codes), "generated_s": round(generated_s, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
