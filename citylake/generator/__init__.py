"""A seeded generator of a made-up city's nightly department extracts, with the ground truth.

    citylake generate --people 100000 --seed 7 --date 2026-11-23             (the first night)
    citylake generate --people 100000 --seed 7 --date 2026-11-24 --night 2   (the next one)

The same (people, seed) is the same city (city.py); each department's extract is written in its
contract's format and location (sources/*.yaml) with the noise its clerks really produce
(extracts.py and writers.py document each kind with its rate). The second and later nights move
the city on (city.EVOLUTION: births, deaths, moves, marriages, job changes, new and closed
enterprises, new decisions and court cases, cases leaving the public list), so some records are
new, some changed and some deleted; the manifest counts them per source.

What the pipeline must never read goes to ``truth/<date>/``: the manifest (what every layer should
end with) and, per source, one row per delivered line with the true person or entity behind it.
Exchange-database sources are staged in ``exchange/<date>/<table>.csv`` for loading into the
departments' PostgreSQL (``citylake generate`` does it; citylake/departments_db.py).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from citylake import contracts
from citylake.generator import city as city_model
from citylake.generator.extracts import EXTRACTS
from citylake.generator.noise import NOISE
from citylake.generator.writers import (
    Written,
    record_digest,
    write_csv,
    write_exchange_table,
    write_jsonl,
    write_xlsx,
)

__all__ = ["NOISE", "EXTRACTS", "generate", "exchange_path"]


def exchange_path(exchange_dir: Path, run_date: date, table: str) -> Path:
    return exchange_dir / f"{run_date:%Y-%m-%d}" / f"{table}.csv"


def _write(contract: contracts.Contract, records, incoming_dir: Path, truth: Path, exchange_dir: Path,
           seed: int, run_date: date, keep_digests: bool) -> Written:
    night = f"{run_date:%Y-%m-%d}"
    if contract.format == "jdbc":
        return write_exchange_table(contract, records, exchange_path(exchange_dir, run_date, contract.jdbc.table),
                                    truth, seed, run_date, keep_digests)
    path = Path(contract.location_for(str(incoming_dir), night))
    writer = {"csv": write_csv, "jsonl": write_jsonl, "xlsx": write_xlsx}[contract.format]
    return writer(contract, records, path, truth, seed, keep_digests)


def _changes(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        "new": sum(1 for key in after if key not in before),
        "changed": sum(1 for key, digest in after.items() if key in before and before[key] != digest),
        "deleted": sum(1 for key in before if key not in after),
        "unchanged": sum(1 for key, digest in after.items() if before.get(key) == digest),
    }


def generate(people: int, seed: int, run_date: date, incoming_dir: Path, truth_dir: Path, *,
             night_number: int = 1, exchange_dir: Path | None = None, progress: bool = False,
             sources: list[str] | None = None) -> dict:
    """Writes one night's extracts and ground truth; returns the manifest of expected counts."""
    from tqdm import tqdm

    exchange_dir = exchange_dir or truth_dir.parent / "exchange"
    first_night = run_date - timedelta(days=night_number - 1)
    declared = contracts.load_all()
    names = sources or [name for name in EXTRACTS if name in declared]

    with tqdm(total=people + people // 20, desc="city", unit="people", disable=not progress) as bar:
        city = city_model.build(people, seed, first_night, bar.update)
    previous: dict[str, dict[str, int]] = {}
    for day in range(1, night_number):
        if day == night_number - 1:  # the night before, as record digests only
            previous = {name: digests(EXTRACTS[name](city)) for name in names}
        city_model.evolve(city, first_night + timedelta(days=day))

    truth = truth_dir / f"{run_date:%Y-%m-%d}"
    expected: dict[str, dict] = {}
    for name in names:
        records = EXTRACTS[name](city)
        if progress:
            records = tqdm(records, desc=name, unit="records", leave=False)
        written = _write(declared[name], records, incoming_dir, truth / f"{name}.csv", exchange_dir, seed,
                         run_date, keep_digests=night_number > 1)
        expected[name] = written.expected()
        if night_number > 1:
            expected[name]["changes"] = _changes(previous[name], written.digests)
    manifest = {
        "run_date": f"{run_date:%Y-%m-%d}",
        "night_number": night_number,
        "seed": seed,
        "people": people,
        "enterprises": sum(1 for entity in city.entities if entity.is_enterprise),
        "noise": NOISE,
        "evolution": city_model.EVOLUTION,
        "sources": expected,
        "records": sum(counts["rows_read"] for counts in expected.values()),
    }
    manifest |= _expected_libraries(truth, names)
    truth.mkdir(parents=True, exist_ok=True)
    (truth / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    return manifest


def digests(records) -> dict[str, int]:
    """Record key -> a hash of its delivered values (within one process)."""
    return {record.key: record_digest(record) for record in records}


def _valid_keys(truth: Path, name: str) -> set[str]:
    import csv

    path = truth / f"{name}.csv"
    if not path.exists():
        return set()
    with path.open(encoding="utf-8") as handle:
        return {row["truth_key"] for row in csv.DictReader(handle) if row["outcome"] == "valid"}


def _expected_libraries(truth: Path, names: list[str]) -> dict:
    """What the base and theme layers should hold, from the truth files (identifier-keyed bases)."""
    import csv

    population = _valid_keys(truth, "household_registration")
    entities = _valid_keys(truth, "enterprise_registry") | _valid_keys(truth, "social_organisations")
    represented = set()
    for name in ("enterprise_registry", "social_organisations"):
        path = truth / f"{name}.csv"
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                representative = row["related"].removeprefix("legal_representative:")
                if row["outcome"] == "valid" and representative in population:
                    represented.add(row["truth_key"])
    persons = set()  # every true person behind a standardised line of a population source
    for name in ("household_registration", "death_certificates", "birth_certificates", "marriage_registrations",
                 "social_insurance_enrolment"):
        path = truth / f"{name}.csv"
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                if row["outcome"] == "valid":
                    persons.add(row["truth_key"])
                    if name == "marriage_registrations":
                        persons.add(row["related"].removeprefix("wife:"))
    return {
        # registered: residents of the household register (one golden person each, by their
        # number); persons: everyone the population sources know, what resolution should find
        "base": {"population": len(persons), "population_registered": len(population),
                 "legal_entity": len(entities)},
        "curated": {
            "enterprise_legal_representative": len(entities),
            "representative_in_population": len(represented),
        },
    }
