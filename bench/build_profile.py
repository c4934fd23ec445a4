"""Where a library's night goes: the seconds of every Spark action, summed by the line of citylake
code that ran it.

    CITYLAKE_ENV=local CITYLAKE_DATA_DIR=/tmp/city-1m CITYLAKE_DRIVER_MEMORY=10g \\
        .venv/bin/python bench/build_profile.py population 2026-11-24

Builds the night of the library (jobs/build_base.py, as the nightly run would) in the lake that
CITYLAKE_DATA_DIR names (a city bench/entity_resolution.py --keep kept; its nights landed and
standardised), timing each action (a count, a checkpoint, a write, a MERGE) and naming the
innermost citylake or jobs line that called it. Spark is lazy, so an action's seconds are those of
everything it computed. A night built before is built again (its records' versions undone first,
and its golden records restored to last night's commit first, which the figures then include).

``--planning``: each frame is planned before its action and that time is shown apart. This is the
driver's work before any task runs: analysing and optimising the plan, Delta's choice of files
(its log read) and the physical plan. The planning is done again for a count, first or isEmpty,
which plan a query of their own over the frame, so this run is slower than the night itself.
"""

from __future__ import annotations

import argparse
import collections
import functools
import importlib.util
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ACTIONS = ("count", "collect", "first", "isEmpty", "localCheckpoint", "checkpoint", "take", "head", "toPandas")


class ActionTimes:
    def __init__(self, plan_first: bool = False) -> None:
        self.plan_first = plan_first  # each frame planned before its action, timed apart
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.planning: dict[str, float] = collections.defaultdict(float)
        self.calls: collections.Counter[str] = collections.Counter()
        self._inside = False

    def wrap(self, owner: type, name: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            if self._inside:  # an action within an action counts once, in the outer one
                return original(*args, **kwargs)
            self._inside, started = True, time.perf_counter()
            planned = started
            try:
                if self.plan_first and args and hasattr(args[0], "_jdf"):
                    # the frame's plan made first (optimised, files picked, physical plan), timed
                    # apart; the action then reuses it (a count or a first plans a query over it)
                    args[0]._jdf.queryExecution().executedPlan()
                    planned = time.perf_counter()
                return original(*args, **kwargs)
            finally:
                self._inside = False
                where = f"{name} @ {_caller()}"
                self.seconds[where] += time.perf_counter() - started
                self.planning[where] += planned - started
                self.calls[where] += 1

        setattr(owner, name, timed)


def _caller() -> str:
    for frame in reversed(traceback.extract_stack()):
        path = Path(frame.filename)
        if (ROOT in path.parents and path.parent.name != "bench" and ".venv" not in path.parts
                and path.name != "checkpoint.py"):  # the caller of local_checkpoint, not it
            return f"{path.relative_to(ROOT)}:{frame.lineno} {frame.name}"
    return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("library", choices=("population", "legal_entity", "credit"))
    parser.add_argument("night", help="the night to build, YYYY-MM-DD")
    parser.add_argument("--at-least", type=float, default=0.3, help="print call sites taking this many seconds")
    parser.add_argument("--planning", action="store_true",
                        help="also time each frame's planning apart (made before its action: the driver's "
                             "optimiser, Delta's choice of files, the physical plan)")
    args = parser.parse_args(argv)

    from delta.tables import DeltaMergeBuilder, DeltaTable
    from pyspark.sql import DataFrameWriter
    from pyspark.sql.classic.dataframe import DataFrame

    times = ActionTimes(plan_first=args.planning)
    for name in ACTIONS:
        times.wrap(DataFrame, name)
    times.wrap(DataFrameWriter, "save")
    times.wrap(DeltaMergeBuilder, "execute")
    for name in ("update", "delete", "history", "detail", "restoreToVersion"):
        times.wrap(DeltaTable, name)

    sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location("build_base", ROOT / "jobs" / "build_base.py")
    build_base = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_base)
    from citylake import job

    settings, spark = job.start("build-profile")
    started = time.perf_counter()
    build_base.build(spark, settings, args.library, args.night, "build-profile")
    total = time.perf_counter() - started
    print(f"{args.library} {args.night}: {total:.1f} s, {sum(times.seconds.values()):.1f} s of it in actions"
          + (f", {sum(times.planning.values()):.1f} s of those planning" if args.planning else ""))
    for where, seconds in sorted(times.seconds.items(), key=lambda item: -item[1]):
        if seconds >= args.at_least:
            planning = f" ({times.planning[where]:5.1f} s planning)" if args.planning else ""
            print(f"{seconds:7.1f} s{planning} {times.calls[where]:3d}x  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
