"""Quality gates: Great Expectations suites from expectations/, run inside the Spark job.

A suite is a GX JSON suite. Each expectation's ``meta`` says what citylake does with it:
  rule_id  a stable identifier (POP-002) recorded with every quarantined row
  action   warn (recorded) | quarantine (failing rows move to the quarantine table) |
           fail (the task fails and nothing is published)
  reason   a sentence for the quarantine table and the reports (never a value)
The threshold is GX's own ``mostly``: a rule whose violation rate exceeds ``1 - mostly`` fails
the gate when its action is quarantine or fail.

GX is the system of record (suites, validation results, Data Docs). Two engines compute the
results; both store them in GX's validation store. Data Docs are rendered from that store once per
night (``build_docs``, called by the nightly summary), not inside each gate: rendering a page
costs more than the single-pass check itself.
  single_pass (default)  every supported expectation becomes a Spark condition (``violation``)
                         and all of them are counted in one aggregate over the data; the counts are
                         turned into GX validation results with GX's own success rule
  gx                     GX's Spark execution engine computes its metrics (many Spark jobs per
                         suite); used for expectations the single pass does not know, and by the
                         tests that hold the two engines to the same answers
No value of any row is ever written into a result or a page (``partial_unexpected_count: 0``, and
sensitive fields are checked through flag columns). The rows behind a quarantine rule are found
with the same condition.
"""

from __future__ import annotations

import fcntl
import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from citylake.settings import PROJECT_ROOT

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
ACTIONS = ("warn", "quarantine", "fail")
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 0}


class GateFailed(RuntimeError):
    """A fail or quarantine rule exceeded its threshold: nothing of the batch is published."""


class SuiteError(ValueError):
    pass


@dataclass(frozen=True)
class Rule:
    rule_id: str
    type: str
    kwargs: dict
    action: str
    reason: str

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")

    @property
    def threshold(self) -> float:
        """Largest tolerated share of violating rows."""
        return round(1.0 - float(self.kwargs.get("mostly", 1.0)), 10)


@dataclass
class RuleOutcome:
    rule: Rule
    success: bool
    element_count: int | None
    unexpected_count: int | None

    @property
    def unexpected_rate(self) -> float | None:
        if not self.element_count or self.unexpected_count is None:
            return None if self.element_count is None else 0.0
        return self.unexpected_count / self.element_count

    @property
    def blocks(self) -> bool:
        return not self.success and self.rule.action in ("quarantine", "fail")

    def to_json(self) -> dict:
        return {
            "rule_id": self.rule.rule_id,
            "expectation": self.rule.type,
            "column": self.rule.column,
            "action": self.rule.action,
            "threshold": self.rule.threshold,
            "success": self.success,
            "rows": self.element_count,
            "violations": self.unexpected_count,
            "violation_rate": self.unexpected_rate,
            "reason": self.rule.reason,
        }


@dataclass
class GateReport:
    table: str
    run_id: str
    engine: str = "single_pass"
    outcomes: list[RuleOutcome] = field(default_factory=list)

    @property
    def rows(self) -> int | None:
        """Rows the gate saw (from the table row-count or any column rule)."""
        for outcome in self.outcomes:
            if outcome.element_count is not None:
                return outcome.element_count
        return None

    @property
    def rules(self) -> list[Rule]:
        return [outcome.rule for outcome in self.outcomes]

    @property
    def passed(self) -> bool:
        return not any(outcome.blocks for outcome in self.outcomes)

    def summary(self) -> str:
        blocking = [
            f"{o.rule.rule_id} ({o.rule.column}: {o.unexpected_count} of {o.element_count} rows, "
            f"threshold {o.rule.threshold:.1%}: {o.rule.reason})"
            for o in self.outcomes
            if o.blocks
        ]
        if not blocking:
            return f"gate {self.table}: passed ({len(self.outcomes)} rules)"
        return f"gate {self.table}: FAILED on " + "; ".join(blocking)

    def to_json(self) -> dict:
        return {
            "table": self.table,
            "run_id": self.run_id,
            "engine": self.engine,
            "passed": self.passed,
            "rules": [outcome.to_json() for outcome in self.outcomes],
        }


def write_report(reports_dir: Path, run_date: str, report: GateReport, **extra) -> Path:
    """reports/<date>/quality/<suite>.json: the gate's counts and rule ids, never values."""
    folder = reports_dir / run_date / "quality"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{report.table}.json"
    path.write_text(json.dumps(report.to_json() | extra, indent=2, ensure_ascii=False))
    return path


def load_suite(name: str, directory: Path = EXPECTATIONS_DIR) -> tuple[dict, list[Rule]]:
    path = directory / f"{name}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SuiteError(f"no suite {name!r}: {path} does not exist") from None
    except json.JSONDecodeError as error:
        raise SuiteError(f"{path}: not valid JSON: {error}") from None
    rules = []
    for index, expectation in enumerate(document.get("expectations", [])):
        meta = expectation.get("meta", {})
        where = f"{path}: expectations[{index}]"
        for key in ("rule_id", "action", "reason"):
            if key not in meta:
                raise SuiteError(f"{where}: meta.{key} is missing")
        if meta["action"] not in ACTIONS:
            raise SuiteError(f"{where}: meta.action must be one of {ACTIONS}, not {meta['action']!r}")
        rule = Rule(meta["rule_id"], expectation["type"], expectation.get("kwargs", {}),
                    meta["action"], meta["reason"])
        if rule.action == "quarantine" and rule.type not in ROW_CONDITIONS:
            raise SuiteError(f"{where}: {rule.type} has no row condition, so it cannot quarantine")
        rules.append(rule)
    ids = [rule.rule_id for rule in rules]
    if len(set(ids)) != len(ids):
        raise SuiteError(f"{path}: duplicated rule_id")
    domains: dict[tuple, str] = {}
    for rule in rules:  # GX keeps one expectation per type and column: a second would vanish
        first = domains.setdefault((rule.type, rule.column), rule.rule_id)
        if first != rule.rule_id:
            raise SuiteError(f"{path}: {first} and {rule.rule_id} are both {rule.type} on "
                             f"{rule.column}; GX keeps only one of them")
    return document, rules


# --- the row condition behind each supported expectation -------------------------------------
# GX's column map expectations ignore nulls, except the not-null one; so do these.


def _not_null(kwargs: dict) -> Column:
    return F.col(kwargs["column"]).isNull()


def _in_set(kwargs: dict) -> Column:
    column = F.col(kwargs["column"])
    return column.isNotNull() & ~column.isin(*kwargs["value_set"])


def _match_regex(kwargs: dict) -> Column:
    column = F.col(kwargs["column"])
    return column.isNotNull() & ~column.rlike(kwargs["regex"])


def _length_equal(kwargs: dict) -> Column:
    column = F.col(kwargs["column"])
    return column.isNotNull() & (F.length(column) != F.lit(kwargs["value"]))


def _between(kwargs: dict) -> Column:
    column = F.col(kwargs["column"])
    outside = F.lit(False)
    if kwargs.get("min_value") is not None:
        outside = outside | (column < F.lit(kwargs["min_value"]))
    if kwargs.get("max_value") is not None:
        outside = outside | (column > F.lit(kwargs["max_value"]))
    return column.isNotNull() & outside


ROW_CONDITIONS = {
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_match_regex": _match_regex,
    "expect_column_values_to_be_between": _between,
    "expect_column_value_lengths_to_equal": _length_equal,
}
# Expectations the single pass answers from table-wide aggregates rather than a row condition.
TABLE_AGGREGATES = ("expect_table_row_count_to_be_between", "expect_column_values_to_be_unique")


def violation(rule: Rule) -> Column:
    """True for a row that breaks the rule (the GX semantics of its expectation)."""
    return ROW_CONDITIONS[rule.type](rule.kwargs)


def split_quarantine(checked: DataFrame, rules: list[Rule]) -> tuple[DataFrame, DataFrame]:
    """(rows to publish, rows to quarantine with rule_id and reason: the first rule they break)."""
    quarantine_rules = [rule for rule in rules if rule.action == "quarantine"]
    broken_id = F.lit(None).cast("string")
    for rule in reversed(quarantine_rules):
        broken_id = F.when(violation(rule), F.lit(rule.rule_id)).otherwise(broken_id)
    reasons = F.create_map(*[F.lit(part) for rule in quarantine_rules for part in (rule.rule_id, rule.reason)])
    marked = checked.withColumn("_rule_id", broken_id)
    marked = marked.withColumn(
        "_reason", reasons[F.col("_rule_id")] if quarantine_rules else F.lit(None).cast("string")
    )
    clean = marked.filter(F.col("_rule_id").isNull()).drop("_rule_id", "_reason")
    quarantined = marked.filter(F.col("_rule_id").isNotNull())
    return clean, quarantined


def single_pass_metrics(checked: DataFrame, rules: list[Rule]) -> dict[str, int]:
    """Everything the suite needs, counted in one aggregate over the data.

    rows; per row rule its violations; per column in a row rule its non-null count; per unique
    rule the non-null and distinct counts of its column.
    """
    aggregates = [F.count(F.lit(1)).alias("rows")]
    columns = set()
    for rule in rules:
        if rule.type in ROW_CONDITIONS:
            aggregates.append(F.sum(F.when(violation(rule), 1).otherwise(0)).alias(f"v:{rule.rule_id}"))
            columns.add(rule.column)
        elif rule.type == "expect_column_values_to_be_unique":
            aggregates.append(F.count_distinct(F.col(rule.column)).alias(f"d:{rule.column}"))
            columns.add(rule.column)
    aggregates += [F.count(F.col(column)).alias(f"n:{column}") for column in sorted(columns)]
    row = checked.agg(*aggregates).first().asDict()
    return {key: int(value or 0) for key, value in row.items()}


def violation_counts(checked: DataFrame, rules: list[Rule]) -> dict[str, int]:
    """Rows breaking each row-level rule, in one pass over the data."""
    metrics = single_pass_metrics(checked, rules)
    return {rule.rule_id: metrics[f"v:{rule.rule_id}"] for rule in rules if rule.type in ROW_CONDITIONS}


def evaluate(rule: Rule, metrics: dict[str, int]) -> tuple[bool, dict]:
    """GX's verdict and result dict for a rule, from single-pass metrics (GX's success rule:
    the share of non-null rows that pass must reach ``mostly``; not-null counts every row)."""
    rows = metrics["rows"]
    if rule.type == "expect_table_row_count_to_be_between":
        low, high = rule.kwargs.get("min_value"), rule.kwargs.get("max_value")
        success = (low is None or rows >= low) and (high is None or rows <= high)
        return success, {"observed_value": rows}
    nonnull = metrics[f"n:{rule.column}"]
    if rule.type == "expect_column_values_to_be_unique":
        unexpected = nonnull - metrics[f"d:{rule.column}"]  # rows beyond the first of each value
    else:
        unexpected = metrics[f"v:{rule.rule_id}"]
    considered = rows if rule.type == "expect_column_values_to_not_be_null" else nonnull
    mostly = float(rule.kwargs.get("mostly", 1.0))
    success = considered == 0 or (considered - unexpected) / considered >= mostly
    missing = rows - nonnull
    result = {
        "element_count": rows,
        "unexpected_count": unexpected,
        "unexpected_percent": 100.0 * unexpected / rows if rows else None,
        "partial_unexpected_list": [],
    }
    if rule.type != "expect_column_values_to_not_be_null":
        result |= {
            "missing_count": missing,
            "missing_percent": 100.0 * missing / rows if rows else None,
            "unexpected_percent_nonmissing": 100.0 * unexpected / nonnull if nonnull else None,
        }
    return success, result


# --- running the suite with GX ------------------------------------------------------------------


@contextmanager
def _locked(directory: Path):
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


_CONTEXTS: dict[Path, object] = {}


def _great_expectations():
    """The great_expectations module, imported with its loggers at WARNING (its import logs
    ~200 lines at INFO into every task's log)."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations

    return great_expectations


def _context(gx_root: Path):
    """The file context under gx_root, opened once per process."""
    gx = _great_expectations()
    if gx_root not in _CONTEXTS:
        context = gx.get_context(mode="file", project_root_dir=str(gx_root))
        context.variables.progress_bars = {"globally": False}
        _CONTEXTS[gx_root] = context
    return _CONTEXTS[gx_root]


def build_docs(gx_root: Path) -> str | None:
    """Renders Data Docs from every stored validation result; returns the site's address."""
    with _locked(gx_root):
        context = _context(gx_root)
        context.build_data_docs()
        sites = context.get_docs_sites_urls()
    return sites[0]["site_url"] if sites else None


def _suite(gx, document: dict):
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    suite = gx.ExpectationSuite(name=document["name"], meta=document.get("meta", {}))
    for expectation in document["expectations"]:
        suite.add_expectation_configuration(
            ExpectationConfiguration(
                type=expectation["type"],
                kwargs=expectation.get("kwargs", {}),
                meta=expectation.get("meta", {}),
            )
        )
    return suite


def _gx_results(context, gx, suite, checked: DataFrame, suite_name: str, run_id) -> list:
    """GX's own Spark engine: a checkpoint over the DataFrame (stores its results)."""
    datasource = context.data_sources.add_or_update_spark(name="citylake")
    try:
        asset = datasource.get_asset(suite_name)
    except LookupError:
        asset = datasource.add_dataframe_asset(name=suite_name)
    try:
        batch_definition = asset.get_batch_definition("whole")
    except (KeyError, LookupError):
        batch_definition = asset.add_batch_definition_whole_dataframe("whole")
    validation = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite_name, data=batch_definition, suite=suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=suite_name,
            validation_definitions=[validation],
            actions=[],
            result_format=RESULT_FORMAT,
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": checked}, run_id=run_id)
    return next(iter(result.run_results.values())).results


def _single_pass_results(context, suite, rules: list[Rule], checked: DataFrame, suite_name: str,
                         run_id) -> list:
    """One aggregate over the data; the results stored in GX's validation store."""
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
        ExpectationValidationResult,
    )
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    metrics = single_pass_metrics(checked, rules)
    configurations = {c.meta["rule_id"]: c for c in suite.expectation_configurations}
    results = []
    for rule in rules:
        success, result = evaluate(rule, metrics)
        results.append(ExpectationValidationResult(
            success=success, expectation_config=configurations[rule.rule_id], result=result,
            exception_info={"raised_exception": False, "exception_message": None,
                            "exception_traceback": None},
        ))
    evaluated = len(results)
    suite_result = ExpectationSuiteValidationResult(
        success=all(r.success for r in results),
        results=results,
        suite_name=suite.name,
        statistics={
            "evaluated_expectations": evaluated,
            "successful_expectations": sum(r.success for r in results),
            "unsuccessful_expectations": sum(not r.success for r in results),
            "success_percent": 100.0 * sum(r.success for r in results) / evaluated if evaluated else None,
        },
        meta={"engine": "citylake single pass", "run_id": run_id.to_json_dict(),
              "active_batch_definition": {"datasource_name": "citylake", "data_asset_name": suite_name,
                                          "batch_definition_name": "whole"}},
        batch_id=f"citylake-{suite_name}",
    )
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite.name),
        run_id=run_id,
        batch_identifier=f"citylake-{suite_name}",
    )
    context.validation_results_store.set(key, suite_result)
    return results


def run_gate(
    checked: DataFrame,
    suite_name: str,
    run_id: str,
    gx_root: Path,
    suites_dir: Path = EXPECTATIONS_DIR,
    engine: str = "single_pass",
) -> GateReport:
    """Validates the DataFrame against the suite, recording results and Data Docs in GX."""
    gx = _great_expectations()
    from great_expectations.core.run_identifier import RunIdentifier

    gx_root = Path(gx_root)
    document, rules = load_suite(suite_name, suites_dir)
    if engine == "single_pass" and any(
        rule.type not in ROW_CONDITIONS and rule.type not in TABLE_AGGREGATES for rule in rules
    ):
        engine = "gx"  # an expectation the single pass does not know: let GX compute it all
    with _locked(gx_root):
        context = _context(gx_root)
        suite = context.suites.add_or_update(_suite(gx, document))
        gx_run_id = RunIdentifier(run_name=run_id)
        if engine == "gx":
            results = _gx_results(context, gx, suite, checked, suite_name, gx_run_id)
        elif engine == "single_pass":
            results = _single_pass_results(context, suite, rules, checked, suite_name, gx_run_id)
        else:
            raise ValueError(f"unknown gate engine {engine!r}")

    by_rule = {r.expectation_config.meta["rule_id"]: r for r in results}
    report = GateReport(table=suite_name, run_id=run_id, engine=engine)
    for rule in rules:
        outcome = by_rule[rule.rule_id]
        if outcome.exception_info and outcome.exception_info.get("raised_exception"):
            raise SuiteError(
                f"{suite_name}: {rule.rule_id} could not run: "
                f"{outcome.exception_info.get('exception_message')}"
            )
        report.outcomes.append(RuleOutcome(rule, bool(outcome.success),
                                           outcome.result.get("element_count"),
                                           outcome.result.get("unexpected_count")))
    return report
