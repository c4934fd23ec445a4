"""Standard -> base libraries: one record per valid key, with provenance.

Pure DataFrame -> DataFrame functions. The walking skeleton's survivorship is simple: the latest
delivered record wins (later batch, then later line); entity resolution replaces it later.

A source contributes to a library when its standardised table carries every field of the library
(population: household registration; legal entity: the enterprise registry and social
organisations). The library's other sources (births, deaths, marriages, social insurance) are
standardised and gated but wait for entity resolution, which links them by identity number,
name and birth date. The credit library has no builder yet: its sources (taxpayer ratings, court
debtors, licences, penalties) are standardised and gated only; the credit base library comes with
entity resolution, which links counterparties to the population and legal-entity libraries.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import reduce

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from citylake.contracts import Contract
from citylake.standardise import standard_columns

# Base field -> the standardised column it is read from.
POPULATION_FIELDS = {
    field: field
    for field in ("identity_number", "name", "sex", "ethnicity", "birth_date", "household_address",
                  "division_code")
}
LEGAL_ENTITY_FIELDS = {
    "credit_code": "credit_code",
    "organisation_code": "credit_code_organisation_code",  # positions 9-17 of the credit code
    **{
        field: field
        for field in ("entity_name", "entity_name_normal", "legal_representative_name",
                      "legal_representative_identity_number", "established_date",
                      "registered_capital_wan", "registered_address", "division_code", "status")
    },
}
LIBRARY_FIELDS = {"population": POPULATION_FIELDS, "legal_entity": LEGAL_ENTITY_FIELDS}


def contributes(contract: Contract, library: str) -> bool:
    """The source belongs to the library and its standardised table has all the library's fields."""
    fields = LIBRARY_FIELDS.get(library)
    return (
        fields is not None
        and contract.library == library
        and set(fields.values()) <= set(standard_columns(contract))
    )


def contributing_sources(all_contracts: Iterable[Contract], library: str) -> list[Contract]:
    """The sources a library is built from, in the order given."""
    return [contract for contract in all_contracts if contributes(contract, library)]


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


def union_sources(standards: list[DataFrame], fields: dict[str, str]) -> DataFrame:
    """The standard tables' rows under the base field names (base field -> standard column)."""
    columns = [F.col(column).alias(field) for field, column in fields.items()]
    batch = ["_source", "_batch_id", "_line_number"]
    return reduce(DataFrame.unionByName, [frame.select(*columns, *batch) for frame in standards])


def build_population(standards: list[DataFrame]) -> DataFrame:
    return latest_per_key(union_sources(standards, POPULATION_FIELDS), "identity_number",
                          list(POPULATION_FIELDS))


def build_legal_entity(standards: list[DataFrame]) -> DataFrame:
    return latest_per_key(union_sources(standards, LEGAL_ENTITY_FIELDS), "credit_code",
                          list(LEGAL_ENTITY_FIELDS))


# No credit builder yet (see the module's docstring): jobs/build_base.py offers these libraries.
BUILDERS = {"population": build_population, "legal_entity": build_legal_entity}
