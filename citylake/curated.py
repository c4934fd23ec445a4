"""Base -> theme tables for analysts: joined, and masked by default.

Analysts never see a raw identity number or a full name here: identity numbers keep the first 4
and last 4 characters (4203**********1234), names keep the surname (张*, 欧阳*).
"""

from __future__ import annotations

from itertools import chain

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from citylake import divisions, identity
from citylake.masking import mask_name_col


def division_name(code: Column) -> Column:
    names = F.create_map(*[F.lit(part) for part in chain.from_iterable(divisions.ALL.items())])
    return names[code]


def enterprise_legal_representative(legal_entity: DataFrame, population: DataFrame) -> DataFrame:
    """Each enterprise with its district and its legal representative, masked."""
    people = population.select(
        F.col("identity_number").alias("_representative_id"),
        F.col("division_code").alias("representative_division_code"),
    )
    joined = legal_entity.join(
        people, legal_entity.legal_representative_identity_number == people._representative_id,
        "left",
    )
    return joined.select(
        "credit_code",
        "entity_name",
        "status",
        "division_code",
        division_name(F.col("division_code")).alias("district"),
        mask_name_col(F.col("legal_representative_name")).alias("legal_representative_name"),
        identity.mask_col(F.col("legal_representative_identity_number")).alias(
            "legal_representative_identity_number"
        ),
        F.col("_representative_id").isNotNull().alias("representative_in_population"),
        "representative_division_code",
    )
