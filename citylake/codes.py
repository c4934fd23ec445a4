"""Code tables and the smaller identifiers: sex (GB/T 2261.1), ethnicity (GB/T 3304),
organisation codes (GB 11714), business registration numbers (ISO 7064 MOD 11,10), phones.

Plain Python for the generator and tests, Spark column expressions (built-in functions only)
for the jobs; the tests hold the two to agree.
"""

from __future__ import annotations

import re
from itertools import chain

from pyspark.sql import Column
from pyspark.sql import functions as F

from citylake import credit_code

# GB/T 2261.1: 0 unknown, 1 male, 2 female, 9 unstated; departments also write the words.
SEX_CODES = {
    "0": "0", "1": "1", "2": "2", "9": "9",
    "男": "1", "男性": "1", "M": "1", "MALE": "1",
    "女": "2", "女性": "2", "F": "2", "FEMALE": "2",
    "未知": "0", "未知的性别": "0", "未说明": "9", "未说明的性别": "9",
}

# GB/T 3304: the 56 ethnic groups in code order (01 汉族 ... 56 基诺族).
ETHNIC_GROUPS = (
    "汉", "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白",
    "土家", "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西",
    "景颇", "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯", "阿昌",
    "普米", "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京", "塔塔尔",
    "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺",
)
ETHNICITY_CODES = {
    **{f"{i:02d}": f"{i:02d}" for i in range(1, 57)},
    **{str(i): f"{i:02d}" for i in range(1, 57)},
    **{name: f"{i:02d}" for i, name in enumerate(ETHNIC_GROUPS, start=1)},
    **{name + "族": f"{i:02d}" for i, name in enumerate(ETHNIC_GROUPS, start=1)},
    "97": "97", "其他": "97", "98": "98", "外国血统": "98",  # 97 other, 98 foreign origin
}


def _lookup(table: dict[str, str], value: Column) -> Column:
    mapping = F.create_map(*[F.lit(part) for part in chain.from_iterable(table.items())])
    return mapping[F.upper(F.trim(value))]


def sex_code_col(value: Column) -> Column:
    """Delivered sex (code or word) -> GB/T 2261.1 code; null when not recognised."""
    return _lookup(SEX_CODES, value)


def ethnicity_code_col(value: Column) -> Column:
    """Delivered ethnicity (code, 1-2 digits, or name with or without 族) -> GB/T 3304 code."""
    return _lookup(ETHNICITY_CODES, value)


# --- organisation codes (GB 11714): 8 body characters and a check character ----------------

_ORGANISATION = re.compile(r"^[0-9A-Z]{8}[0-9X]$")


def is_valid_organisation_code(code: str | None) -> bool:
    return bool(code) and bool(_ORGANISATION.match(code)) and code[8] == credit_code.organisation_check_char(code[:8])


def organisation_code_valid_col(code: Column) -> Column:
    well_formed = F.coalesce(code.rlike(_ORGANISATION.pattern), F.lit(False))
    checked = F.substring(code, 9, 1) == credit_code.organisation_check_char_col(code, start=1)
    return F.when(well_formed, checked).otherwise(F.lit(False))


# --- business registration numbers (注册号): 15 digits, ISO 7064 MOD 11,10 -----------------

_REGISTRATION = re.compile(r"^[0-9]{15}$")


def registration_check_digit(first14: str) -> str:
    p = 10
    for digit in first14:
        s = (int(digit) + p) % 10 or 10
        p = (2 * s) % 11
    return str((11 - p) % 10)


def is_valid_registration_number(number: str | None) -> bool:
    return bool(number) and bool(_REGISTRATION.match(number)) and number[14] == registration_check_digit(number[:14])


def registration_number_valid_col(number: Column) -> Column:
    """Spark twin of :func:`is_valid_registration_number`: the MOD 11,10 recurrence as one
    aggregate over the 14 digit positions (a higher-order function, evaluated in the JVM)."""

    def step(p: Column, position: Column) -> Column:
        digit = F.ascii(F.substring(number, position, F.lit(1))) - F.lit(48)
        s = F.pmod(digit + p, F.lit(10))
        return F.pmod(F.when(s == 0, F.lit(10)).otherwise(s) * 2, F.lit(11))

    p = F.aggregate(F.sequence(F.lit(1), F.lit(14)), F.lit(10), step)
    check = F.pmod(F.lit(11) - p, F.lit(10)).cast("string")
    well_formed = F.coalesce(number.rlike(_REGISTRATION.pattern), F.lit(False))
    return F.when(well_formed, F.substring(number, 15, 1) == check).otherwise(F.lit(False))


# --- phone numbers ---------------------------------------------------------------------------

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_LANDLINE = re.compile(r"^0[1-9][0-9]{1,2}[2-9][0-9]{6,7}$")
FULL_WIDTH_DIGITS = "０１２３４５６７８９"


def normalise_phone(raw: str | None) -> str | None:
    """Digits only, full-width digits converted, the +86 / 0086 country prefix dropped."""
    if raw is None:
        return None
    digits = re.sub(r"[^0-9]", "", raw.translate(str.maketrans(FULL_WIDTH_DIGITS, "0123456789")))
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    elif len(digits) == 15 and digits.startswith("0086"):
        digits = digits[4:]
    return digits or None


def is_valid_phone(phone: str | None) -> bool:
    return bool(phone) and bool(_MOBILE.match(phone) or _LANDLINE.match(phone))


def mask_phone(phone: str | None) -> str | None:
    """138****5678: the first 3 and last 4 digits visible."""
    if not phone:
        return phone
    return phone[:3] + "*" * max(len(phone) - 7, 0) + phone[-4:] if len(phone) > 7 else "*" * len(phone)


def normalise_phone_col(raw: Column) -> Column:
    digits = F.regexp_replace(F.translate(raw, FULL_WIDTH_DIGITS, "0123456789"), r"[^0-9]", "")
    stripped = (
        F.when((F.length(digits) == 13) & digits.startswith("86"), F.substring(digits, 3, 11))
        .when((F.length(digits) == 15) & digits.startswith("0086"), F.substring(digits, 5, 11))
        .otherwise(digits)
    )
    return F.when(stripped == "", F.lit(None).cast("string")).otherwise(stripped)


def phone_valid_col(phone: Column) -> Column:
    return F.coalesce(phone.rlike(_MOBILE.pattern) | phone.rlike(_LANDLINE.pattern), F.lit(False))
