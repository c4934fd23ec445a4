"""Local checkpoints whose size estimate does not grow from one checkpoint to the next.

Spark (3.4 on) gives a checkpointed frame the statistics of the plan it was computed by. Without
column statistics, a join's estimated size is the product of its two sides' sizes, so a frame
checkpointed after a join of frames checkpointed after joins carries a number whose digits double
with each such step: label propagation, id matching and every iterative step here checkpoint a
join of the last round's checkpoint with itself. After a few dozen rounds the estimate has
millions of digits, and planning any later query over it (multiplying those numbers again) takes
longer than running it: on a night of five literal rows, a minute per query.

The bound is kept where the plans are, in Spark: citylake's session extension
(infra/spark/src/citylake/spark/BoundedCheckpoints.java, in every session's spark.sql.extensions,
citylake/spark.py) gives a checkpoint whose estimate is past what Spark takes for a size it does
not know (Long.MaxValue) that unknown size, so a frame's estimate is its plan's over frames whose
estimates are bounded, and a small frame keeps its small estimate (for the planner's broadcast
choice). A Spark Connect client, which cannot reach the plan, gets it as an in-process session
does. Use :func:`local_checkpoint` as ``frame.transform(local_checkpoint)``.
"""

from __future__ import annotations

from pyspark.sql import DataFrame

UNKNOWN_SIZE = 2**63 - 1  # Spark's estimate for a size it does not know


def local_checkpoint(frame: DataFrame, **options) -> DataFrame:
    """``frame.localCheckpoint()``: computed now, its lineage cut, its estimate bounded (see above),
    and, over Spark Connect, kept in the frame's own session."""
    return in_session_of(frame, frame.localCheckpoint(**options))


def in_session_of(frame: DataFrame, checkpointed: DataFrame) -> DataFrame:
    """A Spark Connect checkpoint bound to ``frame``'s session. pyspark 4.2 binds the checkpoint it
    returns to the thread's active session, which on a thread working on a session of its own
    (citylake/concurrency.py) is another: its queries then name a frame that session has not."""
    session = frame.sparkSession
    relation = getattr(checkpointed, "_plan", None)
    if type(relation).__name__ != "CachedRemoteRelation" or checkpointed.sparkSession is session:
        return checkpointed
    from pyspark.sql.connect.dataframe import DataFrame as ConnectFrame
    from pyspark.sql.connect.plan import CachedRemoteRelation

    bound = ConnectFrame(plan=CachedRemoteRelation(relation._relation_id, session), session=session)
    relation._relation_id = None  # released by ``bound`` only, and through the right session
    return bound
