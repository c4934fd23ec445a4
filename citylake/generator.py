"""A seeded generator of one night of department extracts for a made-up city, with ground truth.

It writes what departments deliver (household registration as GBK CSV from public security, the
enterprise registry as UTF-8 CSV from market regulation) into the incoming drop folder, and keeps
aside what the pipeline must never read: which true person or enterprise is behind each line, and
the counts every layer should end with (``truth/<date>/manifest.json``).

Noise, each kind with its rate per record (``NOISE``):
- household_registration:
  duplicate_row      the same line delivered twice (re-sent records)
  invalid_check      identity number with a wrong check character -> quarantined
  missing_id         identity number left empty -> quarantined
  fifteen_digit      the old 15-digit form (people born in the 1900s) -> upgraded, valid
  full_width         identity number typed with full-width digits -> normalised, valid
  lower_x            a final X written as x -> normalised, valid
  compact_date       birth date as yyyyMMdd instead of yyyy-MM-dd
  slash_date         birth date as yyyy/MM/dd
  malformed_line     an extra field (wrong column count) -> quarantined at landing
  undecodable_line   bytes that are not GBK -> quarantined at landing
- enterprise_registry:
  duplicate_row, malformed_line as above
  invalid_code       credit code with a wrong check character -> quarantined
  full_width_bracket company names with （） instead of ()
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from faker.providers.person.zh_CN import Provider as ChineseNames

from citylake import credit_code, divisions, identity

NOISE = {
    "household_registration": {
        "duplicate_row": 0.03,
        "invalid_check": 0.02,
        "missing_id": 0.005,
        "fifteen_digit": 0.02,
        "full_width": 0.01,
        "lower_x": 0.5,  # of numbers ending in X
        "compact_date": 0.15,
        "slash_date": 0.05,
        "malformed_line": 0.005,
        "undecodable_line": 0.002,
    },
    "enterprise_registry": {
        "duplicate_row": 0.03,
        "invalid_code": 0.015,
        "malformed_line": 0.005,
        "full_width_bracket": 0.3,
    },
}

HOUSEHOLD_COLUMNS = ["公民身份号码", "姓名", "性别", "民族", "出生日期", "户籍地址", "行政区划代码"]
ENTERPRISE_COLUMNS = [
    "统一社会信用代码",
    "企业名称",
    "法定代表人",
    "法定代表人证件号码",
    "成立日期",
    "注册资本（万元）",
    "住所",
    "行政区划代码",
    "经营状态",
]
CITY_OF = {code: "十堰市" for code in divisions.SHIYAN} | {code: "荆门市" for code in divisions.JINGMEN}
HISTORICAL_OF = {"420304": ("420321", date(2014, 9, 1)), "420882": ("420821", date(2018, 7, 1))}
STREETS = ["人民路", "北京路", "朝阳路", "车城路", "发展大道", "象山大道", "浏河路", "东风大道", "解放路"]
TRADES = ["商贸", "建材", "农业科技", "汽车配件", "物流", "餐饮管理", "电子", "文化传媒", "水电安装"]
WORDS = ["鑫源", "华泰", "汉江", "武当", "楚天", "恒通", "宏达", "金桥", "瑞丰", "中信", "明珠", "长青"]
STATUSES = ["存续"] * 8 + ["吊销", "注销"]
FULL_WIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


@dataclass(frozen=True)
class Person:
    key: str
    identity_number: str
    name: str
    sex: str
    ethnicity: str
    birth_date: date
    division_code: str
    address: str


@dataclass(frozen=True)
class Enterprise:
    key: str
    credit_code: str
    name: str
    legal_representative: Person
    established: date
    capital_wan: str
    division_code: str
    address: str
    status: str


@dataclass
class Line:
    """One delivered line and what the pipeline should make of it."""

    text: str
    truth_key: str
    outcome: str  # valid | standardise_quarantine | landing_quarantine
    raw_bytes: bytes | None = None


class CityGenerator:
    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        surnames = ChineseNames.last_names
        self._surnames = list(surnames)
        self._surname_weights = list(surnames.values())
        self._given = list(ChineseNames.first_names)  # one- and two-character given names
        self._given_single = [name for name in self._given if len(name) == 1]

    # --- the true city ---------------------------------------------------------------------

    def name(self) -> str:
        while True:
            surname = self.rng.choices(self._surnames, self._surname_weights)[0]
            given = self.rng.choice(self._given)
            if len(given) == 1 and self.rng.random() < 0.6:
                given += self.rng.choice(self._given_single)
            candidate = surname + given
            try:
                candidate.encode("gbk")
            except UnicodeEncodeError:
                continue
            return candidate

    def person(self, index: int, taken: set[str]) -> Person:
        rng = self.rng
        division = rng.choice(sorted(divisions.CURRENT))
        birth = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 82))
        address_code = division
        historical = HISTORICAL_OF.get(division)
        if historical and birth < historical[1] and rng.random() < 0.5:
            address_code = historical[0]  # numbers issued before the county was renamed
        sex = rng.choice("12")
        while True:
            sequence = rng.randrange(0, 500) * 2 + (1 if sex == "1" else 0)
            first17 = f"{address_code}{birth:%Y%m%d}{sequence:03d}"
            number = first17 + identity.check_char(first17)
            if number not in taken:
                taken.add(number)
                break
        ethnicity = "01" if rng.random() < 0.9 else f"{rng.randrange(2, 57):02d}"
        address = (
            f"湖北省{CITY_OF[division]}{divisions.CURRENT[division]}"
            f"{rng.choice(STREETS)}{rng.randrange(1, 300)}号"
        )
        return Person(f"P{index:07d}", number, self.name(), sex, ethnicity, birth, division, address)

    def enterprise(self, index: int, people: list[Person], taken: set[str]) -> Enterprise:
        rng = self.rng
        division = rng.choice(sorted(divisions.CURRENT))
        body_symbols = credit_code.ALPHABET
        while True:
            body8 = "".join(rng.choices(body_symbols, k=8))
            first17 = "91" + division + body8 + credit_code.organisation_check_char(body8)
            code = first17 + credit_code.check_char(first17)
            if code not in taken:
                taken.add(code)
                break
        city = CITY_OF[division].removesuffix("市")
        name = f"{city}{rng.choice(WORDS)}{rng.choice(TRADES)}有限公司"
        established = date(1995, 1, 1) + timedelta(days=rng.randrange(0, 365 * 30))
        capital = f"{rng.choice((10, 50, 100, 200, 500, 1000, 3000))}"
        address = (
            f"湖北省{CITY_OF[division]}{divisions.CURRENT[division]}"
            f"{rng.choice(STREETS)}{rng.randrange(1, 500)}号"
        )
        return Enterprise(
            f"E{index:07d}",
            code,
            name,
            rng.choice(people),
            established,
            capital,
            division,
            address,
            rng.choice(STATUSES),
        )

    # --- what the departments deliver ------------------------------------------------------

    def household_lines(self, people: list[Person]) -> list[Line]:
        rng, noise = self.rng, NOISE["household_registration"]
        lines: list[Line] = []
        for person in people:
            number, outcome = person.identity_number, "valid"
            draw = rng.random()
            if draw < noise["invalid_check"]:
                wrong = rng.choice([c for c in identity.CHECK_CHARS if c != number[17]])
                number, outcome = number[:17] + wrong, "standardise_quarantine"
            elif draw < noise["invalid_check"] + noise["missing_id"]:
                number, outcome = "", "standardise_quarantine"
            elif draw < noise["invalid_check"] + noise["missing_id"] + noise["fifteen_digit"]:
                if number[6:8] == "19":
                    number = number[:6] + number[8:17]
            elif draw < sum(noise[k] for k in ("invalid_check", "missing_id", "fifteen_digit", "full_width")):
                number = number.translate(FULL_WIDTH_DIGITS)
            if number.endswith("X") and rng.random() < noise["lower_x"]:
                number = number[:-1] + "x"
            style = rng.random()
            if style < noise["compact_date"]:
                born = f"{person.birth_date:%Y%m%d}"
            elif style < noise["compact_date"] + noise["slash_date"]:
                born = f"{person.birth_date:%Y/%m/%d}"
            else:
                born = person.birth_date.isoformat()
            fields = [number, person.name, person.sex, person.ethnicity, born, person.address,
                      person.division_code]
            self._deliver(lines, Line(_csv_line(fields), person.key, outcome), noise, "gbk")
        rng.shuffle(lines)
        return lines

    def enterprise_lines(self, enterprises: list[Enterprise]) -> list[Line]:
        rng, noise = self.rng, NOISE["enterprise_registry"]
        lines: list[Line] = []
        for enterprise in enterprises:
            code, outcome = enterprise.credit_code, "valid"
            if rng.random() < noise["invalid_code"]:
                wrong = rng.choice([c for c in credit_code.ALPHABET if c != code[17]])
                code, outcome = code[:17] + wrong, "standardise_quarantine"
            name = enterprise.name
            if rng.random() < noise["full_width_bracket"]:
                name = name.replace("有限公司", "（有限公司）")
            representative = enterprise.legal_representative
            fields = [code, name, representative.name, representative.identity_number,
                      enterprise.established.isoformat(), enterprise.capital_wan, enterprise.address,
                      enterprise.division_code, enterprise.status]
            self._deliver(lines, Line(_csv_line(fields), enterprise.key, outcome), noise, "utf-8")
        rng.shuffle(lines)
        return lines

    def _deliver(self, lines: list[Line], line: Line, noise: dict[str, float], encoding: str) -> None:
        """Appends the line as delivered (perhaps damaged), and perhaps once more (re-sent)."""
        delivered = self._damage(line, noise, encoding)
        lines.append(delivered)
        if self.rng.random() < noise["duplicate_row"]:
            lines.append(Line(delivered.text, delivered.truth_key, delivered.outcome, delivered.raw_bytes))

    def _damage(self, line: Line, noise: dict[str, float], encoding: str) -> Line:
        draw = self.rng.random()
        if draw < noise["malformed_line"]:
            return Line(line.text + ",多余字段", line.truth_key, "landing_quarantine")
        if draw < noise["malformed_line"] + noise.get("undecodable_line", 0.0):
            raw = line.text.encode(encoding)
            cut = raw.index(b",") + 1
            return Line(line.text, line.truth_key, "landing_quarantine", raw[:cut] + b"\xff\xfe" + raw[cut:])
        return line


def _csv_line(fields: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(fields)
    return buffer.getvalue()


def _write_extract(path: Path, header: list[str], lines: list[Line], encoding: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.write((_csv_line(header) + "\n").encode(encoding))
        for line in lines:
            out.write((line.raw_bytes or line.text.encode(encoding)) + b"\n")


def _expected(lines: list[Line]) -> dict[str, int]:
    outcomes = [line.outcome for line in lines]
    return {
        "rows_read": len(lines),
        "landed": len(lines) - outcomes.count("landing_quarantine"),
        "landing_quarantined": outcomes.count("landing_quarantine"),
        "standardised": outcomes.count("valid"),
        "standardise_quarantined": outcomes.count("standardise_quarantine"),
    }


def generate(people: int, seed: int, run_date: date, incoming_dir: Path, truth_dir: Path) -> dict:
    """Writes one night's extracts and ground truth; returns the manifest of expected counts."""
    city = CityGenerator(seed)
    taken_numbers: set[str] = set()
    residents = [city.person(i, taken_numbers) for i in range(people)]
    taken_codes: set[str] = set()
    enterprises = [city.enterprise(i, residents, taken_codes) for i in range(max(people // 4, 20))]

    household = city.household_lines(residents)
    registry = city.enterprise_lines(enterprises)
    night = f"{run_date:%Y-%m-%d}"
    _write_extract(incoming_dir / night / "public_security" / "household_registration.csv",
                   HOUSEHOLD_COLUMNS, household, "gbk")
    _write_extract(incoming_dir / night / "market_regulation" / "enterprise_registry.csv",
                   ENTERPRISE_COLUMNS, registry, "utf-8")

    in_population = {line.truth_key for line in household if line.outcome == "valid"}
    valid_entities = {line.truth_key for line in registry if line.outcome == "valid"}
    enterprise_by_key = {enterprise.key: enterprise for enterprise in enterprises}
    represented = {
        key for key in valid_entities
        if enterprise_by_key[key].legal_representative.key in in_population
    }
    manifest = {
        "run_date": night,
        "seed": seed,
        "people": people,
        "enterprises": len(enterprises),
        "noise": NOISE,
        "sources": {
            "household_registration": _expected(household),
            "enterprise_registry": _expected(registry),
        },
        "base": {"population": len(in_population), "legal_entity": len(valid_entities)},
        "curated": {
            "enterprise_legal_representative": len(valid_entities),
            "representative_in_population": len(represented),
        },
    }
    truth = truth_dir / night
    truth.mkdir(parents=True, exist_ok=True)
    (truth / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    for name, lines in (("household_registration", household), ("enterprise_registry", registry)):
        with (truth / f"{name}.csv").open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["line_number", "truth_key", "outcome"])
            for line_number, line in enumerate(lines, start=2):
                writer.writerow([line_number, line.truth_key, line.outcome])
    return manifest
