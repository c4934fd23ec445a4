"""The citylake command line.

    citylake generate --people 3000 --seed 7 --date 2026-11-23
    citylake summary --date 2026-11-23
    citylake airflow-env            (shell exports that point Airflow at this project)
"""

from __future__ import annotations

import json
import shlex
import sys

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
    staging = settings.data_dir / "generated"
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


@main.command("airflow-env")
def airflow_env() -> None:
    """Shell exports that point Airflow at this project (eval "$(citylake airflow-env)")."""
    from citylake.orchestration import airflow_environment

    for key, value in airflow_environment(citylake_settings.load()).items():
        click.echo(f"export {key}={shlex.quote(value)}")


if __name__ == "__main__":
    sys.exit(main())
