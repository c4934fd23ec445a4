"""The citylake command line.

    citylake generate --people 3000 --seed 7 --date 2026-11-23
    citylake summary --date 2026-11-23
    citylake sources validate | sources preview NAME --date D
    citylake quarantine list|export|replay ...
    citylake resolve --config resolution/person.yaml --input people.csv --output out/
    citylake sql "SELECT ... FROM theme.person_profile ..." [--format table|csv|parquet]
    citylake audit                  (the query audit, for roles that read it)
    citylake access provision|grant (accounts and policies on the object store)
    citylake airflow-env            (shell exports that point Airflow at this project)
"""

from __future__ import annotations

import csv
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
@click.option("--night", "night_number", type=click.IntRange(min=1), default=1, show_default=True,
              help="which night of the city this is: 2 is the day after the first, with its changes")
@click.option("--progress/--no-progress", default=None,
              help="progress bars (default: when the terminal is interactive)")
def generate(people: int, seed: int, run_date, night_number: int, progress: bool | None) -> None:
    """Writes one night of department extracts for a generated city, and its ground truth.

    Files go to the drop folder (or the bucket); exchange-database sources are loaded into the
    departments' PostgreSQL (infra/postgres.sh start)."""
    from citylake import contracts, departments_db, generator, storage

    settings = citylake_settings.load()
    storage.make_private(settings)
    night = run_date.date()
    if progress is None:
        progress = sys.stderr.isatty()
    # locally the extracts are written straight into the drop folder; for S3 they are staged
    staging = settings.incoming_dir if settings.s3 is None else settings.data_dir / "generated"
    exchange = settings.data_dir / "exchange"
    manifest = generator.generate(people, seed, night, staging, settings.truth_dir,
                                  night_number=night_number, exchange_dir=exchange, progress=progress)
    for location in storage.deliver(settings, staging, f"{night:%Y-%m-%d}"):
        click.echo(f"delivered {location}")
    for contract in contracts.load_all().values():
        if contract.jdbc is None or contract.name not in manifest["sources"]:
            continue
        staged = generator.exchange_path(exchange, night, contract.jdbc.table)
        with staged.open(encoding="utf-8", newline="") as handle:
            rows = csv.reader(handle)
            columns = next(rows)
            try:
                count = departments_db.deliver(settings, contract.jdbc.table, columns, rows,
                                               contract.jdbc.batch_column, f"{night:%Y-%m-%d}",
                                               contract.jdbc.order_column)
            except departments_db.DeliveryError as error:
                raise click.ClickException(f"{contract.name}: {error} (is infra/postgres.sh started?)")
        click.echo(f"delivered {count} rows into {contract.jdbc.table} ({settings.departments_db.jdbc_url})")
    for source, counts in manifest["sources"].items():
        click.echo(f"{source}: {counts['rows_read']} rows")
    click.echo(f"{manifest['records']} records for {people} residents")


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


@main.command("resolve")
@click.option("--config", "config_path", required=True,
              help="a resolution configuration: a path, or a name in resolution/ (person, legal_entity)")
@click.option("--input", "input_path", required=True, help="the records: a .csv (header) or Parquet")
@click.option("--output", "output_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="folder for records/, links/, review/, conflicts/, history/, model.json, report.json")
@click.option("--previous", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="an earlier output folder: ids carry over from it")
@click.option("--incremental", is_flag=True, help="score only new and changed records (needs --previous)")
@click.option("--truth-column", default=None, help="a column of true keys: F1 and pair completeness in the report")
@click.option("--run-date", default="", help="the night (mixed into new ids)")
@click.option("--encoding", default="utf-8", show_default=True, help="of a CSV input")
@click.option("--format", "output_format", type=click.Choice(["parquet", "csv"]), default="parquet",
              show_default=True)
def resolve_command(config_path: str, input_path: str, output_dir: Path, previous: Path | None, incremental: bool,
                    truth_column: str | None, run_date: str, encoding: str, output_format: str) -> None:
    """Entity resolution: clusters and persistent ids for person or organisation records."""
    from citylake import spark
    from citylake.resolution import ConfigError
    from citylake.resolution.run import UsageError, run

    settings = citylake_settings.load()
    try:
        report = run(spark.session("resolve", settings), config_path, input_path, output_dir, previous=previous,
                     incremental=incremental, truth_column=truth_column, run_date=run_date, encoding=encoding,
                     output_format=output_format)
    except (ConfigError, UsageError) as error:
        raise click.ClickException(str(error))
    click.echo(f"{report['records']} records -> {report.get('clusters', '?')} clusters; "
               f"{report['links']['accepted']} links; written to {output_dir}")


@main.command("sql")
@click.argument("statement")
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "parquet"]), default="table",
              show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the answer here (parquet needs it; csv and table default to the terminal)")
@click.option("--engine", type=click.Choice(["datafusion", "spark"]), default="datafusion", show_default=True,
              help="datafusion: delta-rs, no JVM; spark: Spark SQL for heavy queries")
@click.option("--max-rows", type=int, default=50, show_default=True, help="rows shown by --format table")
def sql_command(statement: str, output_format: str, output: Path | None, engine: str, max_rows: int) -> None:
    """Answers one read-only SELECT on the lake's tables (<layer>.<table>) with your own
    credentials (CITYLAKE_S3_ACCESS_KEY / _SECRET_KEY on the object store); every query is audited."""
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from citylake import analysts

    settings = citylake_settings.load()
    if settings.s3 is None:
        click.echo("citylake sql: local single-user development mode: the lake folder's owner reads every "
                   "layer (roles are enforced on the object store, CITYLAKE_ENV=s3)", err=True)
    try:
        answer = analysts.query(settings, statement, engine=engine)
    except (analysts.AccessDenied, analysts.QueryError) as error:
        raise click.ClickException(str(error)) from None
    if output_format == "parquet":
        if output is None:
            raise click.UsageError("--format parquet needs --output FILE")
        pq.write_table(answer.table, output)
    elif output_format == "csv":
        if output is None:
            sink = sys.stdout.buffer
            pa_csv.write_csv(answer.table, sink)
        else:
            pa_csv.write_csv(answer.table, output)
    else:
        frame = answer.table.slice(0, max_rows).to_pandas()
        text = frame.to_string(index=False) if len(frame.columns) else "(no columns)"
        (output.write_text(text + "\n", encoding="utf-8") if output else click.echo(text))
    click.echo(f"{answer.table.num_rows} rows in {answer.seconds:.2f}s ({answer.role} {answer.user}; "
               f"{', '.join(answer.tables)})", err=True)


@main.command("audit")
@click.option("--user", "only_user", default=None, help="one account's queries")
def audit_command(only_user: str | None) -> None:
    """The query audit, oldest first: who (as the store proved it), when, status, tables, query."""
    from citylake import analysts

    try:
        entries = analysts.audit_entries(citylake_settings.load())
    except Exception as error:
        raise click.ClickException(f"cannot read the audit ({type(error).__name__}): does your role read it?")
    for entry in entries:
        if only_user in (None, entry["user"]):
            click.echo(f"{str(entry['queried_at'])[:19]}  {entry['user']:<20} {entry['role']:<9} {entry['status']:<8} "
                       f"{entry['tables'] or '-':<32} {entry['query']}")


@main.group("access")
def access_group() -> None:
    """Accounts and policies on the object store, from access/roles.yaml (needs its root keys)."""


ROOT_USER = click.option("--root-user", envvar="MINIO_ROOT_USER", required=True,
                         help="the object store's root account (env MINIO_ROOT_USER)")
ROOT_PASSWORD = click.option("--root-password", envvar="MINIO_ROOT_PASSWORD", required=True,
                             help="its secret (env MINIO_ROOT_PASSWORD; not on a command line)")


@access_group.command("provision")
@ROOT_USER
@ROOT_PASSWORD
@click.option("--credentials-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="where each listed account's secret is kept (<user>.env, 0600)")
def access_provision(root_user: str, root_password: str, credentials_dir: Path) -> None:
    """Buckets, role policies and groups, and the accounts roles.yaml lists (idempotent)."""
    from citylake import access

    settings = citylake_settings.load()
    if settings.s3 is None:
        raise click.ClickException("provisioning needs the object store (CITYLAKE_ENV=s3)")
    for user in access.provision(settings, root_user, root_password, credentials_dir):
        click.echo(f"access: {user} provisioned", err=True)


@access_group.command("grant")
@click.argument("user")
@click.argument("role")
@ROOT_USER
@ROOT_PASSWORD
def access_grant(user: str, role: str, root_user: str, root_password: str) -> None:
    """Creates the account USER in ROLE's group; prints its credentials once, as exports."""
    from citylake import access

    settings = citylake_settings.load()
    if settings.s3 is None:
        raise click.ClickException("granting needs the object store (CITYLAKE_ENV=s3)")
    try:
        secret = access.grant(settings, root_user, root_password, user, role)
    except access.AccessError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"export CITYLAKE_S3_ACCESS_KEY={user}\nexport CITYLAKE_S3_SECRET_KEY={secret}")


@main.command("airflow-env")
def airflow_env() -> None:
    """Shell exports that point Airflow at this project (eval "$(citylake airflow-env)")."""
    from citylake.orchestration import airflow_environment

    for key, value in airflow_environment(citylake_settings.load()).items():
        click.echo(f"export {key}={shlex.quote(value)}")


if __name__ == "__main__":
    sys.exit(main())
