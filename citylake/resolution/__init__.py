"""Entity resolution on Spark: one configurable engine for persons, legal entities and any other
library (the base libraries' 人口库 and 法人库 among them).

    citylake resolve --config resolution/person.yaml --input people.csv --output out/

    from citylake.resolution import load_config, resolve
    result = resolve(records, load_config("person"), previous_ids=last_night, salt="2026-11-23")
    result.records      # the input rows + record_key, content_hash, cluster, person_id, ...
    result.report       # pairs, blocks, m/u, thresholds, timings (no personal data)

How it decides. Identifier first: records with a valid identifier (GB 11643 identity number,
GB 32100 credit code, ...) link exactly, and two different valid identifiers never end in one
cluster, not even through a chain of unidentified records. Records without one (missing, invalid,
masked like 3423011964****3224) are scored Fellegi-Sunter style: m and u estimated from the data
(EM over comparison patterns counted in Spark, u from random pairs), a pair's weight the sum of
its comparisons' log2(m/u), links accepted above a posterior probability (no labels needed).
Conflicts (one identity number, clearly different people) are flagged and held out, never merged
silently. Clusters are connected components of the accepted links; ids persist from night to
night by overlap, with merges and splits in a history table; an incremental run normalises,
scores and re-clusters only the clusters that new, changed and deleted records touch, found
through the index the previous run's records carry. The hot path is Spark
built-in expressions (CASE, levenshtein, element_at on a constant pinyin table): no Python UDF.

The configuration (YAML, validated by citylake/resolution/config.py; errors name the file and the
field, e.g. ``resolution/person.yaml: comparisons.1.field: 'nme' is not a declared field``):

    library: person                     # a name for reports
    record_key: record_key              # column(s) that identify a delivered record, stably
    fields:                             # field -> input column(s) and normaliser (features.py)
      identity_number: {normaliser: identity_number, column: [identity_number, masked_identity_number]}
      name: {normaliser: person_name}   # column defaults to the field name; or expr: <Spark SQL>
      birth_date: {normaliser: date}
    provenance: [_batch_id, _line_number]   # where a record was delivered: not its content
    content: [_row_hash, _mapping]      # optional: what a record's content is a function of
    identifiers: [identity_number]      # exact-link identifiers, in precedence order
    comparisons:                        # comparisons.py: exact, person_name, company_name, date,
      - {name: name, type: person_name, field: name}      # identifier, code_prefix, levels
      - name: place
        type: levels                    # your own levels: Spark SQL over l.<feature>, r.<feature>
        null_when: "l.division_code IS NULL OR r.division_code IS NULL"
        levels: [{label: same_division, when: "l.division_code = r.division_code"}]
    blocking:                           # blocking.py
      max_block_size: 1000              # larger blocks are split (oversized: split) or dropped
      rules: [{name: birth_date_surname, keys: [birth_date, name_surname_pinyin], when: <SQL>}]
    em: {random_pairs: 1000000, fix_u: true, max_iterations: 100, tolerance: 1e-6, seed: 42}
    thresholds: {accept_probability: 0.8, review_probability: 0.2}   # or match_weight: 18
    conflicts: {disagree_on: [name, birth_date], action: hold_out, representative_order: []}
    clustering: {max_iterations: 50}
    ids: {column: person_id, prefix: P}

Feature columns (what comparisons, blocking keys and conditions may name) are listed in
features.py: a field ``name`` normalised as person_name gives name, name_pinyin, name_surname,
name_surname_pinyin, name_given, name_given_pinyin; a date gives birth_date, birth_date_days,
birth_date_year, ...; an identifier gives identity_number, identity_number_valid, _masked, _head,
_tail.

Public API: load_config, parse_config, ResolutionConfig, ConfigError, resolve, Resolution,
resolve_incremental, assign_ids, Model, and the measures in citylake.resolution.evaluate.
"""

from citylake.resolution.config import ConfigError, ResolutionConfig, load_config
from citylake.resolution.config import parse as parse_config
from citylake.resolution.engine import Resolution, resolve
from citylake.resolution.ids import assign_ids
from citylake.resolution.incremental import TonightChanges, resolve_incremental
from citylake.resolution.model import Model

__all__ = [
    "ConfigError", "Model", "Resolution", "ResolutionConfig", "assign_ids", "load_config", "parse_config",
    "TonightChanges", "resolve", "resolve_incremental",
]
