"""Standard -> base libraries: one record per valid key, with provenance.

Pure DataFrame -> DataFrame functions. The walking skeleton's survivorship is simple: the latest
delivered record wins (later batch, then later line); entity resolution replaces it later.
"""

from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

POPULATION_FIELDS = [
    "identity_number", "name", "sex", "ethnicity", "birth_date", "household_address",
    "division_code",
]
LEGAL_ENTITY_FIELDS = [
    "credit_code", "organisation_code", "entity_name", "entity_name_normal",
    "legal_representative_name", "legal_representative_identity_number", "established_date",
    "registered_capital_wan", "registered_address", "division_code", "status",
]


def latest_per_key(standard: DataFrame, key: str, fields: list[str]) -> DataFrame:
    """One row per key: the latest delivered record, with where it came from and how many."""
    newest_first = Window.partitionBy(key).orderBy(
        F.col("_batch_id").desc(), F.col("_line_number").desc()
    )
    per_key = Window.partitionBy(key)
    return (
        standard.filter(F.col(key).isNotNull())
        .withColumn("_rank", F.row_number().over(newest_first))
        .withColumn("source_records", F.count(F.lit(1)).over(per_key))
        .filter(F.col("_rank") == 1)
        .select(
            *fields,
            "source_records",
            F.col("_source").alias("provenance_source"),
            F.col("_batch_id").alias("provenance_batch"),
            F.col("_line_number").alias("provenance_line"),
        )
    )


def union_sources(standards: list[DataFrame], fields: list[str]) -> DataFrame:
    columns = [*fields, "_source", "_batch_id", "_line_number"]
    return reduce(DataFrame.unionByName, [frame.select(*columns) for frame in standards])


def build_population(standards: list[DataFrame]) -> DataFrame:
    return latest_per_key(union_sources(standards, POPULATION_FIELDS), "identity_number",
                          POPULATION_FIELDS)


def build_legal_entity(standards: list[DataFrame]) -> DataFrame:
    return latest_per_key(union_sources(standards, LEGAL_ENTITY_FIELDS), "credit_code",
                          LEGAL_ENTITY_FIELDS)


BUILDERS = {"population": build_population, "legal_entity": build_legal_entity}
