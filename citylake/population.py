"""The population library (人口库): person records from every source, and golden records.

:func:`person_records` turns the standard tables into one table of person records (the fields
resolution/person.yaml reads); the resolution engine gives each a person_id;
:func:`golden_population` keeps one golden record per person a population source knows, by
survivorship:

  identity_number   a valid one of the person's records (household registration first)
  name, sex, birth_date, ethnicity
                    household registration wins, then death, birth, marriage and social-insurance
                    records, the latest record first within a source (by the date it records:
                    the death, the certificate's issue, the registration, the enrolment, the
                    decision; then the record key)
  address, division_code
                    the latest source: the record of the source whose batch read is the latest
                    night's (household registration first on a tie, then the latest record)
  death_date        from the death certificates (health), the latest death recorded; null while
                    alive
with provenance: for each value the record_key it came from, the sources behind the person and
how many records. Persons known only from credit records (a debtor, a penalised individual) get a
person_id but no golden record: the credit library quarantines their records.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from citylake import identity
from citylake.base import (MAPPING, Pick, as_records, latest_per_record, mapping_fingerprint, priority, survivors,
                           union_all)

NATURAL_PERSON = "自然人"
RECORD_SCHEMA = {
    "identity_number": "string", "name": "string", "sex": "string", "birth_date": "string",
    "division_code": "string", "address": "string", "ethnicity": "string", "death_date": "date",
    "role": "string", "insured_person_number": "string", "recorded_on": "date",
}
# The population library's own sources (contract library: population), in survivorship order.
POPULATION_SOURCES = ["household_registration", "death_certificates", "birth_certificates",
                      "marriage_registrations", "social_insurance_enrolment"]
# Credit sources whose natural-person parties are resolved with the population.
CREDIT_PERSON_SOURCES = ["administrative_licences", "administrative_penalties", "dishonest_debtors"]
PERSON_SOURCES = POPULATION_SOURCES + CREDIT_PERSON_SOURCES
GOLDEN_FIELDS = ["identity_number", "name", "sex", "birth_date", "ethnicity", "address", "division_code",
                 "death_date"]
# what a person's golden record is made of, per record (besides its record_key, person_id and its
# source's night, see citylake.base.refreshed)
GOLDEN_INPUTS = ["source", *GOLDEN_FIELDS, "recorded_on", "resolved_by", "review_reason"]


def _date(column: str) -> F.Column:
    return F.date_format(F.col(column), "yyyy-MM-dd")


def _marriage(standard: DataFrame, spouse: str, sex: str) -> DataFrame:
    return as_records(standard, "marriage_registrations", ["registration_certificate"], {
        "identity_number": f"{spouse}_identity_number", "name": f"{spouse}_name", "sex": F.lit(sex),
        "birth_date": _date(f"{spouse}_birth_date"), "role": F.lit(spouse), "recorded_on": "registration_date",
    }, RECORD_SCHEMA, role=spouse)


def _credit_party(standard: DataFrame, source: str, keys: list[str], category: str, number: str,
                  recorded_on: str) -> DataFrame:
    return as_records(standard, source, keys, {
        "identity_number": number, "name": "party_name", "sex": "sex" if "sex" in standard.columns else None,
        "role": F.lit("credit_party"), "recorded_on": recorded_on,
    }, RECORD_SCHEMA, where=F.col(category) == NATURAL_PERSON)


def person_records(standards: dict[str, DataFrame], every_delivery: bool = False) -> DataFrame:
    """Every source's person records (see the module doc), the latest delivery of each (with
    ``every_delivery``: every delivery's, none picked)."""
    builders = {
        "household_registration": lambda s: [as_records(s, "household_registration", ["identity_number"], {
            "identity_number": "identity_number", "name": "name", "sex": "sex",
            "birth_date": _date("birth_date"), "division_code": "division_code",
            "address": "household_address", "ethnicity": "ethnicity", "role": F.lit("resident"),
        }, RECORD_SCHEMA)],
        "death_certificates": lambda s: [as_records(s, "death_certificates", ["certificate_number"], {
            "identity_number": "identity_number", "name": "name", "sex": "sex",
            "birth_date": _date("birth_date"), "division_code": "division_code", "address": "address",
            "death_date": "death_date", "role": F.lit("deceased"), "recorded_on": "death_date",
        }, RECORD_SCHEMA)],
        "birth_certificates": lambda s: [as_records(s, "birth_certificates", ["certificate_number"], {
            "name": "name", "sex": "sex", "birth_date": _date("birth_date"),
            "division_code": "division_code", "role": F.lit("newborn"),
            "recorded_on": F.coalesce(F.col("issued_date"), F.col("birth_date")),
        }, RECORD_SCHEMA)],
        "marriage_registrations": lambda s: [_marriage(s, "husband", "1"), _marriage(s, "wife", "2")],
        "social_insurance_enrolment": lambda s: [as_records(
            s, "social_insurance_enrolment", ["insured_person_number", "insurance_type"],
            {"identity_number": "identity_number", "name": "name", "role": F.lit("insured"),
             "insured_person_number": "insured_person_number", "recorded_on": "enrolled_date"}, RECORD_SCHEMA)],
        "administrative_licences": lambda s: [_credit_party(
            s, "administrative_licences", ["decision_document_number"], "party_category", "identity_number", "decision_date")],
        "administrative_penalties": lambda s: [_credit_party(
            s, "administrative_penalties", ["decision_document_number"], "party_category", "identity_number", "decision_date")],
        "dishonest_debtors": lambda s: [_credit_party(
            s, "dishonest_debtors", ["case_number", "party_name"], "party_type", "party_id", "published_date")],
    }
    frames = [frame for source, standard in standards.items() if source in builders
              for frame in builders[source](standard)]
    if not frames:
        raise ValueError("no person source among: " + ", ".join(sorted(standards)))
    records = union_all(frames)
    return with_identity_facts(records if every_delivery else latest_per_record(records))


def with_identity_facts(records: DataFrame) -> DataFrame:
    """Birth date, sex and division filled from a valid identity number where the record has none
    (a social-insurance or credit record delivers the number and the name only): GB 11643 encodes
    them (positions 1-6, 7-14, 17), and resolution can then compare them with records that have no
    number (a birth certificate, a number-less enrolment). Their expressions' fingerprint is added
    to each record's ``_mapping`` (how it was made, :func:`citylake.base.as_records`)."""
    number = F.col("identity_number")
    valid = F.col("__valid")  # the check computed once per record, not once per filled field
    filled = {
        "birth_date": F.coalesce(F.col("birth_date"),
                                 F.when(valid, F.date_format(identity.birth_date_col(number), "yyyy-MM-dd"))),
        "sex": F.coalesce(F.col("sex"), F.when(valid, identity.sex_col(number))),
        "division_code": F.coalesce(F.col("division_code"), F.when(valid, F.substring(number, 1, 6))),
    }
    if MAPPING in records.columns:
        filled[MAPPING] = F.concat_ws(":", F.col(MAPPING), F.lit(mapping_fingerprint(*filled.values())))
    return records.withColumn("__valid", identity.is_valid_col(number)).withColumns(filled).drop("__valid")


def golden_population(resolved: DataFrame, source_nights: dict[str, date]) -> DataFrame:
    """One row per person_id whose records include a population source's (see the module doc).

    ``resolved``: :func:`person_records` with the engine's person_id and resolved_by;
    ``source_nights``: the night of each source's batch read tonight ("the latest source"). Reads
    only GOLDEN_INPUTS (and the key), not where a record was delivered, so a person whose records'
    inputs are as they were keeps last night's golden record (:func:`citylake.base.refreshed`),
    and a record an incremental night kept as it was (its batch an earlier night's) ranks with its
    source's."""
    records = resolved.where(F.col("person_id").isNotNull())
    by_source = -priority(F.col("source"), POPULATION_SOURCES)  # greatest first: household registration
    attribute = (by_source, F.col("recorded_on"))
    night = (F.create_map(*[F.lit(value) for pair in sorted(source_nights.items()) for value in pair])[F.col("source")]
             if source_nights else F.lit(None).cast("date"))
    recent = (night, by_source, F.col("recorded_on"))
    picks = [Pick("identity_number", attribute, where=F.col("resolved_by") == "identity_number"),
             *[Pick(field, attribute) for field in ("name", "sex", "birth_date", "ethnicity")],
             *[Pick(field, recent) for field in ("address", "division_code")],
             Pick("death_date", (F.col("recorded_on"),), where=F.col("source") == "death_certificates")]
    facts = (
        F.count(F.lit(1)).alias("source_records"),
        F.array_sort(F.collect_set("source")).alias("sources"),
        F.max(F.when(F.col("review_reason").isNotNull(), True).otherwise(False)).alias("flagged_for_review"),
        F.max(F.col("source").isin(POPULATION_SOURCES)).alias("__known"),
    )
    golden = survivors(records, "person_id", picks, facts).where(F.col("__known"))
    provenance = F.map_from_arrays(
        F.array(*[F.lit(field) for field in GOLDEN_FIELDS]),
        F.array(*[F.col(f"{field}_record") for field in GOLDEN_FIELDS]))
    return golden.select(
        "person_id", *[F.col(f).cast("date").alias(f) if f == "birth_date" else F.col(f) for f in GOLDEN_FIELDS],
        F.col("death_date").isNull().alias("alive"), "source_records", "sources", "flagged_for_review",
        F.map_filter(provenance, lambda _, record: record.isNotNull()).alias("provenance"),
    )
