"""The citylake command line.

    citylake generate --people 3000 --seed 7 --date 2026-11-23
    citylake summary --date 2026-11-23
    citylake sources validate | sources preview NAME --date D
    citylake quarantine list|export|replay ...
    citylake airflow-env            (shell exports that point Airflow at this project)
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from citylake import settings as citylake_settings


@click.group()
def main() -> None:
    """citylake: the city's data lake."""


@main.command()
@click.option("--people", type=click.IntRange(min=10), default=3000, show_default=True,
              help="residents of the generated city")
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--date", "run_date", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="the night the extracts belong to")
def generate(people: int, seed: int, run_date) -> None:
    """Writes one night of department extracts for a generated city, and its ground truth."""
    from citylake import generator, storage

    settings = citylake_settings.load()
    night = run_date.date()
    # locally the extracts are written straight into the drop folder; for S3 they are staged
    staging = settings.incoming_dir if settings.s3 is None else settings.data_dir / "generated"
    manifest = generator.generate(people, seed, night, staging, settings.truth_dir)
    delivered = storage.deliver(settings, staging, f"{night:%Y-%m-%d}")
    for location in delivered:
        click.echo(f"delivered {location}")
    for source, counts in manifest["sources"].items():
        click.echo(f"{source}: {counts['rows_read']} rows")


@main.command()
@click.option("--date", "run_date", required=True, help="the night, YYYY-MM-DD")
@click.option("--json", "as_json", is_flag=True, help="print the JSON instead of the table")
def summary(run_date: str, as_json: bool) -> None:
    """Prints a night's summary (written by the nightly's last task)."""
    from citylake.summary import render

    settings = citylake_settings.load()
    path = settings.reports_dir / run_date / "summary.json"
    if not path.exists():
        raise click.ClickException(f"no summary for {run_date}: {path} does not exist")
    document = json.loads(path.read_text(encoding="utf-8"))
    click.echo(json.dumps(document, indent=2, ensure_ascii=False) if as_json else render(document))


@main.group("sources")
def sources_group() -> None:
    """Source contracts: validate them all, preview one against a delivered extract."""


@sources_group.command("validate")
def sources_validate() -> None:
    """One line per contract in sources/: valid, or the file and field that is wrong."""
    from citylake import sources

    outcomes = sources.validate_all()
    for path, problem in outcomes:
        click.echo(f"{path.name}: {'valid' if problem is None else problem}")
    if any(problem for _, problem in outcomes):
        raise SystemExit(1)


@sources_group.command("preview")
@click.argument("name")
@click.option("--date", "run_date", required=True, help="the night whose extract to read")
@click.option("--rows", type=click.IntRange(min=1), default=1000, show_default=True,
              help="how many lines to read")
def sources_preview(name: str, run_date: str, rows: int) -> None:
    """Reads a sample of a source's extract: mapped rows (masked) and the rules they would fail."""
    from citylake import sources, spark

    settings = citylake_settings.load()
    result = sources.preview(spark.session("sources-preview", settings), settings, name, run_date,
                             limit=rows)
    click.echo(f"{result.source}: {result.rows_read} lines read from {result.location}, "
               f"{result.unreadable} unreadable")
    for row in result.sample:
        click.echo("  " + ", ".join(f"{key}={value}" for key, value in row.items()))
    for rule in result.rules:
        if rule.rule_id in result.violations:
            click.echo(f"  {rule.rule_id:<8} {rule.action:<11} {result.violations[rule.rule_id]:>6} rows  "
                       f"{rule.reason}")


@main.group("quarantine")
def quarantine_group() -> None:
    """Quarantined rows: list them, export them for correction, replay corrections."""


@quarantine_group.command("list")
@click.option("--source", default=None, help="one source (contract name)")
@click.option("--date", "run_date", default=None, help="one night, YYYY-MM-DD")
def quarantine_list(source: str | None, run_date: str | None) -> None:
    """Counts of quarantined rows per source, night, stage, rule and status."""
    from citylake import quarantine, spark

    settings = citylake_settings.load()
    rows = quarantine.summary(spark.session("quarantine-list", settings), settings, source, run_date)
    if not rows:
        click.echo("no quarantined rows")
    for row in rows:
        click.echo(f"{row['batch_id']:<40} {row['stage']:<12} {row['rule_id']:<14} {row['status']:<9}"
                   f"{row['rows']:>7}  {row['reason']}")


@quarantine_group.command("export")
@click.option("--source", required=True)
@click.option("--date", "run_date", required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def quarantine_export(source: str, run_date: str, out: Path) -> None:
    """Writes a night's open rows of a source to CSV for correction (holds personal data)."""
    from citylake import quarantine, spark

    settings = citylake_settings.load()
    count = quarantine.export(spark.session("quarantine-export", settings), settings, source, run_date, out)
    click.echo(f"exported {count} rows to {out} (personal data in clear: keep it restricted)")


@quarantine_group.command("replay")
@click.option("--source", required=True)
@click.option("--date", "run_date", required=True)
@click.option("--file", "corrections", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True)
def quarantine_replay(source: str, run_date: str, corrections: Path) -> None:
    """Replays a corrected export: passing rows are published, the rest stay quarantined."""
    from citylake import quarantine, spark

    settings = citylake_settings.load()
    counts = quarantine.replay(spark.session("quarantine-replay", settings), settings, source,
                               run_date, corrections, f"replay-{run_date}")
    click.echo(f"published {counts['published']}, still quarantined {counts['still_quarantined']}")


@main.command("airflow-env")
def airflow_env() -> None:
    """Shell exports that point Airflow at this project (eval "$(citylake airflow-env)")."""
    from citylake.orchestration import airflow_environment

    for key, value in airflow_environment(citylake_settings.load()).items():
        click.echo(f"export {key}={shlex.quote(value)}")


if __name__ == "__main__":
    sys.exit(main())
