"""The city's data resource directory (数据资源目录): a static HTML catalog of the lake, each night.

For every Delta table of the standard, base and theme layers: its description, owning
department(s), columns with their type, meaning and personal-data class, row count, freshness
(the night of its newest data), latest quality-gate status, and lineage back to the departments'
sources. Read with delta-rs from the tables' logs (row counts from the files' statistics): no JVM,
no data scanned. Column meanings and personal-data classes of standard tables come from the
source contracts (sources/*.yaml); base and theme tables are described here. Written by the
nightly summary to reports/<date>/catalog.html and reports/catalog.html (the latest).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from citylake import contracts, storage
from citylake.credit import CREDIT_SOURCES
from citylake.legal_entity import ENTITY_SOURCES
from citylake.population import PERSON_SOURCES
from citylake.settings import Settings

LIBRARY_SOURCES = {"population": PERSON_SOURCES, "legal_entity": ENTITY_SOURCES, "credit": CREDIT_SOURCES}
# base and theme tables: description, what they are built from, and their columns' classes
DESCRIBED: dict[str, dict] = {
    "base/population": {"about": "人口库: one golden record per person, by survivorship, with provenance",
                        "from": ["base/population_records"], "sensitive": ["identity_number", "ethnicity"],
                        "personal": ["name", "sex", "birth_date", "address", "death_date"]},
    "base/population_records": {"about": "every source's person records with their person_id (entity resolution), "
                                         "in versions (night written, valid_to)",
                                "from": [f"standard/{s}" for s in PERSON_SOURCES],
                                "sensitive": ["identity_number", "ethnicity", "insured_person_number", "identifiers"],
                                "personal": ["name", "sex", "birth_date", "address", "death_date"]},
    "base/population_history": {"about": "every version of each golden person (SCD type 2)",
                                "from": ["base/population"], "sensitive": ["identity_number", "ethnicity"],
                                "personal": ["name", "sex", "birth_date", "address", "death_date"]},
    "base/legal_entity": {"about": "法人库: one golden record per entity, keyed by unified social credit code",
                          "from": ["base/legal_entity_records", "base/population_records"],
                          "sensitive": ["legal_representative_identity_number"],
                          "personal": ["legal_representative_name"]},
    "base/legal_entity_records": {"about": "every source's organisation records with their entity_id, in versions "
                                           "(night written, valid_to)",
                                  "from": [f"standard/{s}" for s in ENTITY_SOURCES],
                                  "sensitive": ["legal_representative_identity_number"],
                                  "personal": ["legal_representative"]},
    "base/credit": {"about": "信用库: every credit record linked to a person_id or an entity_id",
                    "from": [f"standard/{s}" for s in CREDIT_SOURCES] + ["base/population", "base/legal_entity"],
                    "personal": ["party_name"]},
    "base/joint_punishment": {"about": "dishonest entities, their legal representatives, dishonest persons",
                              "from": ["base/credit", "base/legal_entity"]},
    "theme/person_profile": {"about": "each person, masked: district, sex, age band, alive, credit standing",
                             "from": ["base/population", "base/credit_profile_person"],
                             "masked": ["person_key", "identity_division", "name"]},
    "theme/entity_credit_profile": {"about": "each entity by credit code: licences, penalties, rating, joint punishment",
                                    "from": ["base/legal_entity", "base/credit_profile_entity", "base/joint_punishment"],
                                    "masked": ["legal_representative_name"]},
    "theme/district_population": {"about": "living persons per division, sex and age band",
                                  "from": ["base/population"]},
    "theme/joint_punishment_list": {"about": "the joint-punishment list, persons masked",
                                    "from": ["base/joint_punishment", "base/legal_entity", "base/population"],
                                    "masked": ["person_key", "name"]},
    "theme/enterprise_legal_representative": {"about": "each enterprise with its district and masked representative",
                                              "from": ["base/legal_entity", "base/population"],
                                              "masked": ["legal_representative_name",
                                                         "legal_representative_person_key"]},
    "theme/data_quality": {"about": "per source and night: rows read, landed, quarantined, gate status",
                           "from": ["ops/landing_ledger", "ops/quarantine"]},
}


@dataclass
class Entry:
    table: str
    about: str
    departments: list[str]
    rows: int | None
    freshness: str | None
    quality: str
    columns: list[tuple[str, str, str, str]]  # name, type, meaning, personal-data class
    lineage: list[str] = field(default_factory=list)


def _log(table_path: str, options: dict) -> tuple[int | None, list[tuple[str, str]], str | None]:
    from deltalake import DeltaTable

    table = DeltaTable(table_path, storage_options=options or None)
    actions = table.get_add_actions(flatten=True)
    counts = actions.column("num_records").to_pylist() if "num_records" in actions.schema.names else []
    rows = sum(count or 0 for count in counts) if counts else None
    columns = [(f.name, str(f.type)) for f in table.schema().to_arrow()]
    history = table.history(1)
    written = datetime.fromtimestamp(history[0]["timestamp"] / 1000, timezone.utc).isoformat(timespec="minutes") \
        if history else None
    return rows, columns, written


def _sources_behind(table: str) -> list[str]:
    """The departments' sources a table is built from, following DESCRIBED's lineage."""
    if table.startswith("standard/"):
        return [table.removeprefix("standard/")]
    seen, found, todo = set(), [], list(DESCRIBED.get(table, {}).get("from", []))
    while todo:
        upstream = todo.pop(0)
        if upstream in seen:
            continue
        seen.add(upstream)
        if upstream.startswith("standard/"):
            found.append(upstream.removeprefix("standard/"))
        todo += DESCRIBED.get(upstream, {}).get("from", [])
    return sorted(set(found))


def entries(settings: Settings, tables: list[str], quality: dict[str, bool]) -> list[Entry]:
    root, options = storage.delta_rs_lake(settings)
    declared = contracts.load_all()
    out = []
    for table in tables:
        layer, name = table.split("/", 1)
        rows, columns, written = _log(f"{root}/{table}", options)
        if layer == "standard" and name in declared:
            contract = declared[name]
            meaning = {c.standard: (f"{c.source} ({c.kind})", c.personal_data.value) for c in contract.columns}
            about, departments = f"{contract.dataset} ({contract.department}), standardised", [contract.department]
        else:
            described = DESCRIBED.get(table, {})
            meaning = {c: ("", "sensitive") for c in described.get("sensitive", [])}
            meaning |= {c: ("", "personal") for c in described.get("personal", [])}
            meaning |= {c: ("masked for analysts", "masked") for c in described.get("masked", [])}
            about = described.get("about", "")
            departments = sorted({declared[s].department for s in _sources_behind(table) if s in declared})
        described_columns = [(column, kind, *meaning.get(column, ("", "none"))) for column, kind in columns]
        gate = quality.get(table.replace("/", "."))
        out.append(Entry(table, about, departments, rows, written,
                         "passed" if gate else ("failed" if gate is False else "no gate"),
                         described_columns, _sources_behind(table)))
    return out


def quality_status(reports_dir: Path, night: str) -> dict[str, bool]:
    folder = reports_dir / night / "quality"
    return {path.stem: bool(json.loads(path.read_text(encoding="utf-8")).get("passed"))
            for path in sorted(folder.glob("*.json"))} if folder.exists() else {}


def render(catalog: list[Entry], night: str) -> str:
    """The catalog as one static HTML page (no script, no external resources)."""
    e = html.escape
    rows = []
    for entry in catalog:
        columns = "".join(
            f"<tr><td><code>{e(c)}</code></td><td>{e(t)}</td><td>{e(m)}</td>"
            f"<td class='pd-{e(p)}'>{e(p)}</td></tr>" for c, t, m, p in entry.columns)
        rows.append(
            f"<section id='{e(entry.table)}'><h2>{e(entry.table)}</h2><p>{e(entry.about)}</p>"
            f"<dl><dt>owner</dt><dd>{e(', '.join(entry.departments) or 'citylake')}</dd>"
            f"<dt>rows</dt><dd class='rows'>{'' if entry.rows is None else entry.rows}</dd>"
            f"<dt>last written</dt><dd>{e(entry.freshness or '')}</dd>"
            f"<dt>quality</dt><dd class='quality-{e(entry.quality.replace(' ', '-'))}'>{e(entry.quality)}</dd>"
            f"<dt>lineage</dt><dd class='lineage'>{e(' · '.join(entry.lineage) or '-')}</dd></dl>"
            f"<table><thead><tr><th>column</th><th>type</th><th>meaning</th><th>personal data</th></tr></thead>"
            f"<tbody>{columns}</tbody></table></section>")
    index = "".join(f"<li><a href='#{e(x.table)}'>{e(x.table)}</a> {e(x.about)}</li>" for x in catalog)
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>citylake 数据资源目录 {e(night)}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px}.pd-sensitive{color:#b00}.pd-masked{color:#a60}"
        ".quality-failed{color:#b00}dl{display:grid;grid-template-columns:8em auto}</style></head><body>"
        f"<h1>citylake 数据资源目录: the night of {e(night)}</h1><p>{len(catalog)} tables</p>"
        f"<ul>{index}</ul>{''.join(rows)}</body></html>")


def write(settings: Settings, tables: list[str], night: str) -> Path:
    """Renders the catalog of ``tables`` (layer/name) to reports/<night>/catalog.html and
    reports/catalog.html; returns the night's file."""
    page = render(entries(settings, tables, quality_status(settings.reports_dir, night)), night)
    target = settings.reports_dir / night / "catalog.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(page, encoding="utf-8")
    (settings.reports_dir / "catalog.html").write_text(page, encoding="utf-8")
    return target
