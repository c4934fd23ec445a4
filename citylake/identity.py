"""Citizen identity numbers (GB 11643-1999): check character, 15-to-18 upgrade, normalisation.

Two faces of the same rules: plain Python for the generator and for tests, and Spark column
expressions (built-in functions only, no Python UDF) for the jobs. Tests hold them to agree.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the column functions import pyspark when called: citylake sql runs without it
    from pyspark.sql import Column

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
FULL_WIDTH = "０１２３４５６７８９Ｘｘ"
HALF_WIDTH = "0123456789XX"

_EIGHTEEN = re.compile(r"^[0-9]{17}[0-9X]$")
_FIFTEEN = re.compile(r"^[0-9]{15}$")


def check_char(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS))
    return CHECK_CHARS[total % 11]


def upgrade_fifteen(number: str) -> str:
    """GB 11643-1989 15-digit form to the 18-character form: insert 19, append the check."""
    first17 = number[:6] + "19" + number[6:]
    return first17 + check_char(first17)


def normalise(raw: str | None) -> str | None:
    """Strips spaces, converts full-width digits, upper-cases x, upgrades 15-digit numbers."""
    if raw is None:
        return None
    number = raw.translate(str.maketrans(FULL_WIDTH, HALF_WIDTH)).replace(" ", "").strip().upper()
    if _FIFTEEN.match(number):
        return upgrade_fifteen(number)
    return number or None


def is_valid(number: str | None) -> bool:
    """True for an 18-character number with a correct check character (no normalisation)."""
    return bool(number) and bool(_EIGHTEEN.match(number)) and number[17] == check_char(number[:17])


def mask(number: str | None) -> str | None:
    """Display mask: first 4 and last 4 characters visible (4203**********1234)."""
    if number is None:
        return None
    if len(number) <= 8:
        return "*" * len(number)
    return number[:4] + "*" * (len(number) - 8) + number[-4:]


# Six or more digits, however a person or a query splits them: spaces, hyphens, quotes, commas,
# parentheses, `||` and `+` between the parts ('110105 1949...', '110105'||'19491231'||'002X',
# concat('1101', '0519', ...)), and a trailing check character X.
_SEPARATORS = r"[\s\-'\"|+,()]*"
_NUMBER_LIKE = re.compile(rf"\d(?:{_SEPARATORS}\d){{5,}}(?:{_SEPARATORS}[Xx](?![A-Za-z0-9_]))?")


def mask_in_text(text: str | None) -> str | None:
    """Free text (a query, an error message) with the digits of every number-like run masked:
    six or more digits counted across the separators above become ``*``, so no identity number
    survives however it was typed; shorter numbers (years, limits, counts) stay."""
    if text is None:
        return None
    return _NUMBER_LIKE.sub(lambda m: re.sub(r"[0-9Xx]", "*", m.group(0)), text)


# an identity number as a department may type it where a name belongs (a header cell, a JSON
# key): 15 or more digits, ASCII or full-width, with at most one space, dash, dot or underscore
# between two of them, and perhaps a check character X
_IDENTITY_LIKE = re.compile(r"[0-9０-９](?:[\s\-_.]?[0-9０-９]){14,}(?:[\s\-_.]?[XxＸｘ])?")


def mask_identity_numbers(text: str | None) -> str | None:
    """Text that names things (a column, a file, a reason) with every identity-number-like run
    (15 or more digits, see above) masked as ``*``; dates, line numbers and counts stay."""
    if text is None:
        return None
    return _IDENTITY_LIKE.sub(lambda m: "*" * len(m.group(0)), text)


def mask_identity_numbers_col(text: Column) -> Column:
    """Spark twin of :func:`mask_identity_numbers`, for reasons built from delivered names (a
    JSON key): each identity-number-like run becomes 18 ``*``."""
    from pyspark.sql import functions as F

    return F.regexp_replace(text, _IDENTITY_LIKE.pattern, "*" * 18)


PSEUDONYM_LENGTH = 24
_PSEUDONYM_LETTERS = str.maketrans("0123456789", "ghijklmnop")  # hex without digits: no number-like text


def pseudonym(number: str | None, key: bytes) -> str | None:
    """The keyed pseudonym of an identity number: HMAC-SHA256 under ``key``, 24 hex characters
    spelt with letters only (0-9 as g-p). Equal numbers give equal pseudonyms, so analysts join on
    it; without the key it cannot be computed from a candidate number."""
    if number is None:
        return None
    digest = hmac.new(key, number.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_LENGTH].translate(_PSEUDONYM_LETTERS)


# --- Spark column expressions -------------------------------------------------------------


def _check_char_col(first17: Column) -> Column:
    """Check character of a column holding 17 ASCII digits (undefined for anything else)."""
    from pyspark.sql import functions as F

    total = sum(
        (F.ascii(F.substring(first17, position + 1, 1)) - F.lit(48)) * F.lit(weight)
        for position, weight in enumerate(WEIGHTS)
    )
    return F.substring(F.lit(CHECK_CHARS), F.pmod(total, F.lit(11)) + 1, 1)


def normalise_col(raw: Column) -> Column:
    """Spark twin of :func:`normalise`."""
    from pyspark.sql import functions as F

    cleaned = F.upper(F.regexp_replace(F.translate(raw, FULL_WIDTH, HALF_WIDTH), r"\s", ""))
    first17 = F.concat(F.substring(cleaned, 1, 6), F.lit("19"), F.substring(cleaned, 7, 9))
    upgraded = F.concat(first17, _check_char_col(first17))
    return (
        F.when(cleaned.rlike(_FIFTEEN.pattern), upgraded)
        .when(cleaned == "", F.lit(None).cast("string"))
        .otherwise(cleaned)
    )


def is_valid_col(number: Column) -> Column:
    """Spark twin of :func:`is_valid`: never null, false for null input."""
    from pyspark.sql import functions as F

    well_formed = F.coalesce(number.rlike(_EIGHTEEN.pattern), F.lit(False))
    checked = F.substring(number, 18, 1) == _check_char_col(F.substring(number, 1, 17))
    return F.when(well_formed, checked).otherwise(F.lit(False))


def birth_date_col(number: Column) -> Column:
    """Birth date encoded in positions 7-14, null where it is not a real date."""
    from pyspark.sql import functions as F

    return F.to_date(F.try_to_timestamp(F.substring(number, 7, 8), F.lit("yyyyMMdd")))


def birth_date_plausible_col(number: Column, as_of: Column | None = None) -> Column:
    """The encoded birth date is a real date between 1900-01-01 and the night (never null)."""
    from pyspark.sql import functions as F

    born = birth_date_col(number)
    latest = F.current_date() if as_of is None else as_of
    return F.coalesce((born >= F.lit("1900-01-01").cast("date")) & (born <= latest), F.lit(False))


def sex_col(number: Column) -> Column:
    """GB/T 2261.1 sex code from the sequence parity: 1 male (odd), 2 female (even)."""
    from pyspark.sql import functions as F

    parity = F.pmod(F.ascii(F.substring(number, 17, 1)) - F.lit(48), F.lit(2))
    return F.when(parity == 1, F.lit("1")).otherwise(F.lit("2"))


def mask_col(number: Column) -> Column:
    """Spark twin of :func:`mask`."""
    from pyspark.sql import functions as F

    length = F.length(number)
    return F.when(
        length > 8,
        F.concat(
            F.substring(number, 1, 4),
            F.repeat(F.lit("*"), length - 8),
            F.substring(number, -4, 4),
        ),
    ).otherwise(F.repeat(F.lit("*"), length))


def pseudonym_col(number: Column, key: bytes) -> Column:
    """Spark twin of :func:`pseudonym`: HMAC-SHA256 of built-in sha2 over the key's pads (RFC 2104)."""
    from pyspark.sql import functions as F

    block = hashlib.sha256(key).digest() if len(key) > 64 else key
    block = block.ljust(64, b"\0")
    inner = F.unhex(F.sha2(F.concat(F.lit(bytes(b ^ 0x36 for b in block)), F.encode(number, "UTF-8")), 256))
    outer = F.sha2(F.concat(F.lit(bytes(b ^ 0x5C for b in block)), inner), 256)
    return F.when(number.isNotNull(),
                  F.translate(F.substring(outer, 1, PSEUDONYM_LENGTH), "0123456789", "ghijklmnop"))
