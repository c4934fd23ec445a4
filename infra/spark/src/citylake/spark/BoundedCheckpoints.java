package citylake.spark;

import java.math.BigInteger;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.SparkSessionExtensions;
import org.apache.spark.sql.catalyst.plans.logical.LogicalPlan;
import org.apache.spark.sql.catalyst.plans.logical.Statistics;
import org.apache.spark.sql.catalyst.rules.Rule;
import org.apache.spark.sql.execution.LogicalRDD;

import scala.Function1;
import scala.Option;
import scala.runtime.AbstractFunction1;
import scala.runtime.AbstractPartialFunction;
import scala.runtime.BoxedUnit;

/**
 * A Spark session extension (spark.sql.extensions) that keeps a checkpoint's size estimate
 * bounded: Spark gives a checkpointed frame the statistics of the plan it was computed by, and a
 * checkpoint of a join of checkpoints of joins carries an estimate whose digits double with each
 * round, until planning a query over it takes minutes (citylake/checkpoint.py). This rule, run
 * after resolution, gives every checkpoint (LogicalRDD) whose estimate is past Long.MAX_VALUE the
 * estimate of an unknown size instead. It is the server side of citylake.checkpoint for Spark
 * Connect clients, which cannot reach the plan.
 */
public final class BoundedCheckpoints extends AbstractFunction1<SparkSessionExtensions, BoxedUnit> {

  static final BigInteger UNKNOWN_SIZE = BigInteger.valueOf(Long.MAX_VALUE);

  @Override
  public BoxedUnit apply(SparkSessionExtensions extensions) {
    Function1<SparkSession, Rule<LogicalPlan>> rule =
        new AbstractFunction1<SparkSession, Rule<LogicalPlan>>() {
          @Override
          public Rule<LogicalPlan> apply(SparkSession session) {
            return new CapCheckpointEstimates();
          }
        };
    extensions.injectPostHocResolutionRule(rule);
    return BoxedUnit.UNIT;
  }

  static boolean unbounded(LogicalRDD checkpoint) {
    Statistics stats = checkpoint.computeStats();
    if (stats.sizeInBytes().bigInteger().compareTo(UNKNOWN_SIZE) > 0) {
      return true;
    }
    return stats.rowCount().isDefined()
        && stats.rowCount().get().bigInteger().compareTo(UNKNOWN_SIZE) > 0;
  }

  /** LogicalRDD nodes past the bound, copied without their origin's statistics. */
  static final class CapCheckpointEstimates extends Rule<LogicalPlan> {
    @Override
    public LogicalPlan apply(LogicalPlan plan) {
      return plan.transformUp(
          new AbstractPartialFunction<LogicalPlan, LogicalPlan>() {
            @Override
            public boolean isDefinedAt(LogicalPlan node) {
              return node instanceof LogicalRDD && unbounded((LogicalRDD) node);
            }

            @Override
            public <A1 extends LogicalPlan, B1> B1 applyOrElse(A1 node, Function1<A1, B1> otherwise) {
              if (!isDefinedAt(node)) {
                return otherwise.apply(node);
              }
              LogicalRDD checkpoint = (LogicalRDD) node;
              scala.collection.immutable.Seq<Object> others = checkpoint.otherCopyArgs();
              @SuppressWarnings("unchecked")
              B1 bounded = (B1) checkpoint.copy(
                  checkpoint.output(), checkpoint.rdd(), checkpoint.outputPartitioning(),
                  checkpoint.outputOrdering(), checkpoint.isStreaming(), checkpoint.stream(),
                  (org.apache.spark.sql.classic.SparkSession) others.apply(0), Option.empty(),
                  (Option<org.apache.spark.sql.catalyst.expressions.ExpressionSet>) others.apply(2));
              return bounded;
            }
          });
    }
  }
}
