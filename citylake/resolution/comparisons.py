"""Comparison functions: each comparison of the configuration as ordered levels of Spark SQL.

A comparison is evaluated on a pair of records, the left one's features as ``l.<feature>`` and the
right one's as ``r.<feature>``; every text feature has a 64-bit hash twin ``<feature>_hash``
(xxhash64, null for null), and equality is tested on the twins, a long comparison per pair
instead of a string one (custom levels can do the same: ``l.address_hash = r.address_hash``). Its levels are tried in order (the first that holds wins); none
holding means the last level, ``else`` (disagreement); ``null_when`` (a value missing on either
side) means the comparison says nothing about the pair and weighs 0. In a pair table a
comparison is one CASE expression: its level index (0 null, 1.. the levels, the last ``else``)
for counting patterns, or its log2 weight for scoring.

Built-in types (f is the comparison's field):

  exact         exact: l.f = r.f
  person_name   exact; pinyin: same pinyin (homophones such as 张伟/张玮); one_character: one
                character replaced in a name of three or more (precomputed variants, no edit
                distance for names of up to 4 characters); one_character_short: the same in a
                two-character name; same_surname_pinyin
  company_name  exact: same normal form; core: same without the legal form; same_characters:
                the same characters in another order (十堰鑫源商贸 / 鑫源商贸(十堰)); core_close:
                within two edits
  date          exact; one_part: year and month, or year and day, or month and day agree, or
                month and day transposed; within_days: at most within_days apart (default 366)
  identifier    all_but_check: equal but for the last (check) character; visible: a masked
                number's visible characters agree with the other number (3423011964****3224
                and 342301196405063224); close: at most two characters apart, one of the two
                numbers invalid (two valid numbers are two people)
  code_prefix   exact, then prefix_<n> for each n of prefix_lengths (division codes: [4, 2])
  levels        your own: levels [{label, when}] and null_when, Spark SQL over l. and r.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyspark.sql import Column
from pyspark.sql import functions as F

from citylake.resolution.config import ComparisonSpec
from citylake.resolution.features import VARIANTS

ELSE = "else"


def names_in(sql: str) -> set[str]:
    """Every name a piece of Spark SQL holds (``l.name_pinyin = r.name_pinyin`` -> l, r,
    name_pinyin): column, feature and function names alike, for the caller to filter."""
    return set(re.findall(r"\b([A-Za-z_]\w*)\b", sql))


@dataclass(frozen=True)
class Comparison:
    """A comparison as SQL: its levels (label, condition) in order, and when it says nothing."""

    name: str
    levels: tuple[tuple[str, str], ...]
    null_when: str | None

    @property
    def labels(self) -> list[str]:
        """The level labels, ``else`` last (the null level is not counted)."""
        return [label for label, _ in self.levels] + [ELSE]

    @property
    def sql(self) -> list[str]:
        """Every piece of Spark SQL the comparison evaluates: its levels' conditions and null_when."""
        return [condition for _, condition in self.levels] + ([self.null_when] if self.null_when else [])

    @property
    def radix(self) -> int:
        """Distinct level indices, the null level among them."""
        return len(self.levels) + 2

    def level(self) -> Column:
        """0 when null, 1.. for the levels in order, len(levels) + 1 for ``else``."""
        return self._case([F.lit(index) for index in range(1, len(self.levels) + 1)],
                          F.lit(len(self.levels) + 1), F.lit(0))

    def weight(self, weights: list[float]) -> Column:
        """The log2 weight of the pair's level (weights for each label, ``else`` last)."""
        return self._case([F.lit(float(w)) for w in weights[:-1]], F.lit(float(weights[-1])), F.lit(0.0))

    def _case(self, values: list[Column], otherwise: Column, when_null: Column) -> Column:
        expression = None
        if self.null_when:
            expression = F.when(F.expr(self.null_when), when_null)
        for (_, condition), value in zip(self.levels, values):
            holds = F.expr(condition)  # a null condition does not hold: CASE goes on to the next
            expression = F.when(holds, value) if expression is None else expression.when(holds, value)
        return otherwise if expression is None else expression.otherwise(otherwise)


def _missing(field: str, feature: str | None = None) -> str:
    feature = feature or field
    return f"l.{feature}_hash IS NULL OR r.{feature}_hash IS NULL"


def _same(feature: str) -> str:
    """Equality of a text feature, on its 64-bit hash twin (a long comparison per pair)."""
    return f"l.{feature}_hash = r.{feature}_hash"


def built(spec: ComparisonSpec) -> Comparison:
    """The SQL of a configured comparison."""
    f = spec.field
    if spec.type == "exact":
        return Comparison(spec.name, (("exact", _same(f)),), _missing(f))
    if spec.type == "person_name":
        variants = " OR ".join(f"l.{f}_variant{i} = r.{f}_variant{i}" for i in range(1, VARIANTS + 1))
        return Comparison(spec.name, (
            ("exact", _same(f)),
            ("pinyin", _same(f"{f}_pinyin")),
            # one character replaced (past the precomputed positions, an edit distance); in a
            # two-character name that is half the name, and common between strangers
            ("one_character", f"(l.{f}_length >= 3 AND ({variants})) OR (l.{f}_length > {VARIANTS}"
                              f" AND r.{f}_length > {VARIANTS} AND levenshtein(l.{f}, r.{f}, 1) >= 0)"),
            ("one_character_short", variants),
            ("same_surname_pinyin", _same(f"{f}_surname_pinyin")),
        ), _missing(f))
    if spec.type == "company_name":
        return Comparison(spec.name, (
            ("exact", _same(f"{f}_normal")),
            ("core", _same(f"{f}_core")),
            ("same_characters", _same(f"{f}_sorted")),
            ("core_close", f"levenshtein(l.{f}_core, r.{f}_core, 2) >= 0"),
        ), _missing(f, f"{f}_core"))
    if spec.type == "date":
        one_part = (f"(l.{f}_year = r.{f}_year AND (l.{f}_month = r.{f}_month OR l.{f}_day = r.{f}_day))"
                    f" OR (l.{f}_month = r.{f}_month AND l.{f}_day = r.{f}_day)"
                    f" OR (l.{f}_year = r.{f}_year AND l.{f}_month = r.{f}_day AND l.{f}_day = r.{f}_month)")
        return Comparison(spec.name, (
            ("exact", f"l.{f}_days = r.{f}_days"),
            ("one_part", one_part),
            ("within_days", f"abs(l.{f}_days - r.{f}_days) <= {spec.within_days}"),
        ), f"l.{f}_days IS NULL OR r.{f}_days IS NULL")
    if spec.type == "identifier":
        return Comparison(spec.name, (
            ("all_but_check", _same(f"{f}_body")),
            ("visible", f"(l.{f}_masked OR r.{f}_masked) AND length(l.{f}) = length(r.{f})"
                        f" AND (startswith(l.{f}_head, r.{f}_head) OR startswith(r.{f}_head, l.{f}_head))"
                        f" AND (endswith(l.{f}_tail, r.{f}_tail) OR endswith(r.{f}_tail, l.{f}_tail))"),
            # two valid numbers are two people, however close: only a mistyped one can be close
            ("close", f"NOT (l.{f}_valid AND r.{f}_valid) AND NOT l.{f}_masked AND NOT r.{f}_masked"
                      f" AND levenshtein(l.{f}, r.{f}, 2) >= 0"),
        ), _missing(f))
    if spec.type == "code_prefix":
        levels = [("exact", _same(f))]
        levels += [(f"prefix_{n}", f"left(l.{f}, {n}) = left(r.{f}, {n})") for n in spec.prefix_lengths]
        return Comparison(spec.name, tuple(levels), _missing(f))
    if spec.type == "levels":
        return Comparison(spec.name, tuple((level.label, level.when) for level in spec.levels), spec.null_when)
    raise ValueError(f"no comparison type {spec.type!r}")


def pattern(comparisons: list[Comparison]) -> Column:
    """One integer for the pair's levels on every comparison (mixed radix, first comparison lowest)."""
    code, scale = F.lit(0), 1
    for comparison in comparisons:
        code = code + comparison.level() * F.lit(scale)
        scale *= comparison.radix
    return code


def decode(code: int, comparisons: list[Comparison]) -> list[int]:
    """The level index of each comparison in a pattern code."""
    levels = []
    for comparison in comparisons:
        levels.append(code % comparison.radix)
        code //= comparison.radix
    return levels
