"""Local checkpoints whose size estimate does not grow from one checkpoint to the next.

Spark (3.4 on) gives a checkpointed frame the statistics of the plan it was computed by. Without
column statistics, a join's estimated size is the product of its two sides' sizes, so a frame
checkpointed after a join of frames checkpointed after joins carries a number whose digits double
with each such step: label propagation, id matching and every iterative step here checkpoint a
join of the last round's checkpoint with itself. After a few dozen rounds the estimate has
millions of digits, and planning any later query over it (multiplying those numbers again) takes
longer than running it: on a night of five literal rows, a minute per query.

:func:`local_checkpoint` is ``DataFrame.localCheckpoint`` whose estimate, past what Spark
takes for a size it does not know (``spark.sql.defaultSizeInBytes``, Long.MaxValue), is that
unknown size: a frame's estimate is then its plan's over frames whose estimates are bounded, and
a small frame keeps its small estimate (for the planner's broadcast choice). Use it as
``frame.transform(local_checkpoint)``.
"""

from __future__ import annotations

import logging

from py4j.protocol import Py4JError
from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

UNKNOWN_SIZE = 2**63 - 1  # Spark's estimate for a size it does not know


def local_checkpoint(frame: DataFrame) -> DataFrame:
    """``frame.localCheckpoint()``, its size estimate capped at UNKNOWN_SIZE (see the module doc)."""
    done = frame.localCheckpoint()
    plan = done._jdf.queryExecution().analyzed()
    if plan.getClass().getSimpleName() != "LogicalRDD":
        return done
    stats = plan.stats()
    try:  # a number past Python's digits limit is past the cap
        bounded = stats.sizeInBytes() <= UNKNOWN_SIZE and (
            stats.rowCount().isEmpty() or stats.rowCount().get() <= UNKNOWN_SIZE)
    except ValueError:
        bounded = False
    if bounded:
        return done
    jvm = done.sparkSession._jvm
    try:  # LogicalRDD as Spark 4.2 has it (pyproject.toml pins pyspark)
        session, _, constraints = (plan.otherCopyArgs().apply(i) for i in range(3))
        unknown = plan.copy(plan.output(), plan.rdd(), plan.outputPartitioning(), plan.outputOrdering(),
                            plan.isStreaming(), plan.stream(), session, jvm.scala.Option.empty(), constraints)
        return DataFrame(jvm.org.apache.spark.sql.classic.Dataset.ofRows(done._jdf.sparkSession(), unknown),
                         done.sparkSession)
    except Py4JError as error:  # another Spark: its checkpoint as it is, slower to plan after many rounds
        log.warning("a checkpoint keeps Spark's size estimate (this Spark's LogicalRDD differs: %s)",
                    str(error).splitlines()[0])
        return done
