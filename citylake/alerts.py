"""Failure alerts: one clear line in the task log, and a JSON POST to the city's alert webhook.

Wired into every citylake task through ``DEFAULT_ARGS["on_failure_callback"]``
(citylake/orchestration.py); Airflow calls it once a task has failed for good (after its retries).
The alert names the DAG, the step (delivery, land, standardise, build_population, ...), the source
when the step is per source (task ids ``delivery_<source>``, ``land_<source>``,
``standardise_<source>``), the run date and the reason: the exception's message, cut to its
point. Jobs word their errors without personal data; the message can still end with the last
lines of spark-submit's output, where Spark may quote a value it failed on, so the reason drops
that tail, blanks quoted literals and long digit runs (identity numbers, phone numbers), and is
never longer than ``REASON_LIMIT``.

With CITYLAKE_ALERT_WEBHOOK set, the same alert is POSTed as JSON (stdlib urllib, a short
timeout). A webhook that is down or slow is logged and otherwise ignored: the task stays failed for
its own reason.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.request
from typing import Any

from citylake.settings import load

log = logging.getLogger("citylake.alerts")

PER_SOURCE_STEPS = ("delivery", "land", "standardise")
WEBHOOK_TIMEOUT_SECONDS = 5
REASON_LIMIT = 300

_SPARK_SUBMIT = re.compile(r"^Cannot execute: .*?\. Error code is: (-?\d+)\.", re.DOTALL)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_LONG_DIGITS = re.compile(r"[0-9０-９]{11,}[0-9Xx]?")


def step_and_source(task_id: str) -> tuple[str, str | None]:
    """``land_household_registration`` -> ("land", "household_registration");
    ``build_population`` -> ("build_population", None)."""
    step, _, rest = task_id.partition("_")
    if step in PER_SOURCE_STEPS and rest:
        return step, rest
    return task_id, None


def reason_of(error: BaseException | str | None) -> str:
    """The failure's reason, safe for an alert channel (see the module docstring)."""
    if error is None:
        return "unknown (no exception recorded)"
    text = str(error).strip() or type(error).__name__
    submitted = _SPARK_SUBMIT.match(text)
    if submitted:
        # the provider's message is the whole command line, then spark-submit's last lines
        tail = text[submitted.end():]
        cause = _last_exception_line(tail)
        text = f"spark-submit exited with code {submitted.group(1)}" + (f": {cause}" if cause else "")
    else:
        text = text.splitlines()[0]
        if not isinstance(error, str):
            text = f"{type(error).__name__}: {text}"
    text = _LONG_DIGITS.sub("***", _QUOTED.sub("'***'", text))
    return text if len(text) <= REASON_LIMIT else text[: REASON_LIMIT - 1] + "…"


def _last_exception_line(output: str) -> str | None:
    """The job's own error from a Python traceback in spark-submit's output (``x.GateFailed: ...``)."""
    pattern = re.compile(r"^\s*([\w.]*(?:Error|Exception|Failed|Rejected|Extract)\b: .+)$")
    lines = [m.group(1) for m in map(pattern.match, output.splitlines()) if m]
    return lines[-1] if lines else None


def alert(context: dict[str, Any]) -> dict[str, Any]:
    """The alert of a failed task, from its Airflow context."""
    ti = context.get("ti") or context.get("task_instance")
    task_id = getattr(ti, "task_id", None) or context["task"].task_id
    dag_id = getattr(ti, "dag_id", None) or context["dag"].dag_id
    step, source = step_and_source(task_id)
    run_date = context.get("ds")
    if context.get("dag_run") is not None:  # the night the run processes, as its jobs got it
        from citylake.orchestration import night

        try:
            run_date = night(context["dag_run"], context.get("triggering_asset_events"))
        except (AttributeError, ValueError):
            pass
    return {
        "alert": "citylake task failed",
        "dag_id": dag_id,
        "task_id": task_id,
        "step": step,
        "source": source,
        "run_date": run_date,
        "run_id": context.get("run_id"),
        "try_number": getattr(ti, "try_number", None),
        "reason": reason_of(context.get("exception")),
    }


def line(payload: dict[str, Any]) -> str:
    return (f"CITYLAKE ALERT dag={payload['dag_id']} step={payload['step']} "
            f"source={payload['source'] or '-'} run_date={payload['run_date']} "
            f"task={payload['task_id']} try={payload['try_number']} reason={payload['reason']}")


def post(url: str, payload: dict[str, Any], timeout: float = WEBHOOK_TIMEOUT_SECONDS) -> bool:
    """POSTs the alert as JSON; True when the webhook answered 2xx. Never raises."""
    request = urllib.request.Request(
        url, data=json.dumps(payload, ensure_ascii=False).encode("utf-8"), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "citylake-alerts"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except Exception as error:  # noqa: BLE001 - a broken webhook must not mask the task's failure
        log.warning("CITYLAKE ALERT webhook failed (%s); the alert is the line above",
                    type(error).__name__)
        return False


def on_failure(context: dict[str, Any]) -> None:
    """Airflow's on_failure_callback: logs the alert line and POSTs it to the webhook if set."""
    try:
        payload = alert(context)
        log.error(line(payload))
        webhook = load().alert_webhook
        if webhook:
            post(webhook, payload)
    except Exception:  # noqa: BLE001 - alerting must never change how the task ends
        log.exception("CITYLAKE ALERT could not be built")
