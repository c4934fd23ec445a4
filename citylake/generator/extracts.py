"""What each department delivers about the city: one record per line, as its clerks write it.

Each function yields Records: the delivered values by source column (the names in the source's
contract), the true person or entity behind it, any other true parties it mentions, and what the
pipeline should make of it (``valid``, or ``standardise_quarantine`` when its key identifier is
broken beyond repair). Noise (citylake/generator/noise.py) is applied here, per record:

- identity numbers, wherever typed: invalid check (2%), missing (0.5%), 15-digit (2%), full-width
  (1%), spaces (0.5%), lower-case x (half of X endings). Only the household register's key is
  quarantined for them; elsewhere a broken number is a warning and the record links by other fields.
- names outside the household register: homophones (2%), typos (0.5%), full-width spaces (0.5%).
- enterprises referenced by other departments: by organisation code only (8%), by registration
  number only (4%, pre-2015 firms), by name only (3%); 有限责任公司 (10%) and bracket styles (30%).
- addresses: a death certificate may carry the previous address (stale, 20%).
- dates: each department has its styles (ISO, yyyyMMdd, yyyy/MM/dd, yyyy/M/d, yyyy年M月d日, yyyy.MM.dd).
- the credit code registry: 1.5% wrong check characters (quarantined); taxpayer ids 0.5% likewise.
- courts publish masked identity numbers (month and day hidden); organisations by credit code, or
  by organisation code written with a hyphen (12345678-9).
Line-level damage (duplicates, malformed and undecodable lines) is the writers' (writers.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterator

from citylake.generator.city import City, Entity, Person
from citylake.generator.noise import (
    NOISE,
    Dice,
    company_name_as_written,
    date_as_written,
    identity_as_typed,
    invalid_credit_code,
    masked_as_courts_publish,
    name_as_written,
)

SEX_NAMES = {"1": "男", "2": "女"}
INSURANCE_TYPES = {"110": "企业职工基本养老保险", "210": "失业保险", "310": "职工基本医疗保险",
                   "410": "工伤保险", "510": "生育保险"}


@dataclass(slots=True)
class Record:
    key: str  # stable across nights: the department's own record key
    values: dict[str, str]  # source column -> value as delivered
    truth_key: str
    outcome: str = "valid"  # valid | standardise_quarantine
    related: str = ""  # other true parties mentioned: "role:key;role:key"


class Department:
    """Noise helpers bound to one dataset's dice."""

    def __init__(self, city: City, dataset: str):
        self.city, self.dataset = city, dataset

    def dice(self, key: str) -> Dice:
        return Dice(self.city.seed, self.dataset, key)

    def name(self, person: Person, dice: Dice) -> str:
        return name_as_written(person.name, person.surname_length, dice, self.city.name_pool)[0]

    def identity(self, person: Person | None, dice: Dice) -> str:
        return identity_as_typed(person.identity_number, dice)[0] if person else ""

    def company(self, entity: Entity, dice: Dice) -> dict[str, str]:
        """How this department identifies an organisation: credit code, a legacy code, or a name."""
        rates = NOISE["company"]
        name = company_name_as_written(entity.name, dice)
        draw = dice.random()
        if draw < rates["by_organisation_code"]:
            return {"name": name, "organisation_code": entity.organisation_code}
        draw -= rates["by_organisation_code"]
        if draw < rates["by_registration_number"] and entity.registration_number:
            return {"name": name, "registration_number": entity.registration_number}
        draw -= rates["by_registration_number"]
        if draw < rates["by_name_only"]:
            return {"name": name}
        return {"name": name, "credit_code": entity.credit_code}


def household_registration(city: City) -> Iterator[Record]:
    """公安: the register itself. Names, sex and birth dates are the truth; identity numbers typed."""
    dept = Department(city, "household_registration")
    styles = {"iso": 0.8, "compact": 0.15, "slash": 0.05}
    for person in city.people:
        if not person.resident:
            continue
        dice = dept.dice(person.key)
        number, valid = identity_as_typed(person.identity_number, dice)
        yield Record(person.key, {
            "公民身份号码": number, "姓名": person.name, "性别": person.sex, "民族": person.ethnicity,
            "出生日期": date_as_written(person.birth, dice, styles), "户籍地址": person.address,
            "行政区划代码": person.division,
        }, person.key, "valid" if valid else "standardise_quarantine")


def birth_certificates(city: City) -> Iterator[Record]:
    """卫健: birth certificates. The child has no identity number; parents are typed with noise."""
    dept = Department(city, "birth_certificates")
    styles = {"chinese": 0.7, "iso": 0.3}
    for birth in city.births:
        dice = dept.dice(birth.certificate)
        child, mother, father = birth.child, birth.mother, birth.father
        related = ";".join(f"{role}:{p.key}" for role, p in (("mother", mother), ("father", father)) if p)
        yield Record(birth.certificate, {
            "出生医学证明编号": birth.certificate, "新生儿姓名": dept.name(child, dice),
            "性别": SEX_NAMES[child.sex], "出生日期": date_as_written(child.birth, dice, styles),
            "出生地点": f"{birth.hospital}", "母亲姓名": dept.name(mother, dice) if mother else "",
            "母亲身份证件号码": dept.identity(mother, dice), "父亲姓名": dept.name(father, dice) if father else "",
            "父亲身份证件号码": dept.identity(father, dice),
            "签发日期": date_as_written(birth.issued, dice, styles), "行政区划代码": child.division,
        }, child.key, related=related)


def death_certificates(city: City) -> Iterator[Record]:
    """卫健: death certificates, sometimes with the person's previous (stale) address."""
    dept = Department(city, "death_certificates")
    styles = {"slash_unpadded": 0.6, "iso": 0.4}
    for death in city.deaths:
        dice = dept.dice(death.certificate)
        person = death.person
        address = person.address
        if person.previous_address and dice.chance(NOISE["address"]["stale"]):
            address = person.previous_address
        yield Record(death.certificate, {
            "死亡证明编号": death.certificate, "姓名": dept.name(person, dice), "性别": SEX_NAMES[person.sex],
            "身份证件号码": dept.identity(person, dice),
            "出生日期": date_as_written(person.birth, dice, styles),
            "死亡日期": date_as_written(death.died, dice, styles), "死亡地点": death.place,
            "常住地址": address, "行政区划代码": person.division,
        }, person.key)


def marriage_registrations(city: City) -> Iterator[Record]:
    """民政: marriage and divorce registrations; dates as real Excel dates (writers.py)."""
    dept = Department(city, "marriage_registrations")
    for marriage in city.marriages:
        dice = dept.dice(marriage.certificate)
        husband, wife = marriage.husband, marriage.wife
        yield Record(marriage.certificate, {
            "登记证字号": marriage.certificate, "登记类型": marriage.kind, "登记日期": marriage.registered,
            "男方姓名": dept.name(husband, dice), "男方身份证件号码": dept.identity(husband, dice),
            "男方出生日期": husband.birth, "女方姓名": dept.name(wife, dice),
            "女方身份证件号码": dept.identity(wife, dice), "女方出生日期": wife.birth,
            "登记机关": f"{husband.division}民政局婚姻登记处",
        }, husband.key, related=f"wife:{wife.key}")


def social_insurance_enrolment(city: City) -> Iterator[Record]:
    """人社: one row per insured person, employer and insurance type."""
    dept = Department(city, "social_insurance_enrolment")
    styles = {"compact": 0.5, "iso": 0.5}
    for spell in city.employments:
        person, employer = spell.person, spell.employer
        dice = dept.dice(spell.key)
        name, number = dept.name(person, dice), dept.identity(person, dice)
        reference = dept.company(employer, dice)
        phone = person.phone if not dice.chance(0.01) else person.phone[:7]  # a digit-short phone
        for insurance in spell.types:
            status = "终止参保" if spell.end else ("暂停缴费" if dice.chance(0.03) else "参保缴费")
            yield Record(f"{spell.key}-{insurance}", {
                "个人编号": spell.insured_number, "姓名": name, "公民身份号码": number, "联系电话": phone,
                "险种类型": insurance, "参保单位名称": reference["name"],
                "单位统一社会信用代码": reference.get("credit_code", ""),
                "单位组织机构代码": reference.get("organisation_code", ""),
                "参保日期": date_as_written(spell.start, dice, styles), "参保状态": status,
            }, person.key, related=f"employer:{employer.key}")


def enterprise_registry(city: City) -> Iterator[Record]:
    """市场监管: the registry of enterprises, the authority for credit codes and registration numbers."""
    dept = Department(city, "enterprise_registry")
    for entity in city.entities:
        if not entity.is_enterprise:
            continue
        dice = dept.dice(entity.key)
        code, outcome = entity.credit_code, "valid"
        if dice.chance(NOISE["credit_code"]["invalid_check"]):
            code, outcome = invalid_credit_code(code, dice), "standardise_quarantine"
        name = entity.name if not dice.chance(0.3) else entity.name.translate(str.maketrans("（）", "()"))
        representative = entity.representative
        yield Record(entity.key, {
            "统一社会信用代码": code, "注册号": entity.registration_number or "", "企业名称": name,
            "法定代表人": representative.name, "法定代表人证件号码": representative.identity_number,
            "成立日期": entity.established.isoformat(), "注册资本（万元）": str(entity.capital_wan),
            "住所": entity.address, "行政区划代码": entity.division, "经营状态": entity.status,
        }, entity.key, outcome, related=f"legal_representative:{representative.key}")


def social_organisations(city: City) -> Iterator[Record]:
    """民政: social organisations, registered under credit codes of category 51, 52 or 53 (as
    registered: civil affairs' extract carries no typing noise)."""
    for entity in city.entities:
        if entity.is_enterprise:
            continue
        representative = entity.representative
        yield Record(entity.key, {
            "统一社会信用代码": entity.credit_code, "社会组织名称": entity.name, "社会组织类型": entity.category,
            "法定代表人": representative.name,  # civil affairs registers its own representatives
            "法定代表人身份证件号码": representative.identity_number,
            "成立登记日期": entity.established, "注册资金（万元）": entity.capital_wan,
            "业务主管单位": f"{entity.division}民政局", "住所": entity.address,
            "行政区划代码": entity.division, "登记状态": entity.status,
        }, entity.key, related=f"legal_representative:{representative.key}")


def taxpayer_credit_ratings(city: City) -> Iterator[Record]:
    """税务: yearly ratings; older taxpayers keep the 15-character id (division + organisation code)."""
    dept = Department(city, "taxpayer_credit_ratings")
    for rating in city.tax_ratings:
        entity = rating.entity
        dice = dept.dice(entity.key)  # one taxpayer id per taxpayer, whatever the year
        taxpayer_id, outcome = entity.credit_code, "valid"
        if entity.registration_number and dice.chance(0.3):
            taxpayer_id = entity.division + entity.organisation_code
        if dice.chance(0.005):
            taxpayer_id, outcome = invalid_credit_code(entity.credit_code, dice), "standardise_quarantine"
        yield Record(rating.key, {
            "纳税人识别号": taxpayer_id, "纳税人名称": company_name_as_written(entity.name, dice),
            "评价年度": str(rating.year), "纳税信用级别": rating.rating,
            "评价日期": rating.rated.isoformat(), "主管税务机关": f"国家税务总局{entity.division}税务局",
        }, entity.key, outcome)


def dishonest_debtors(city: City) -> Iterator[Record]:
    """法院: the public list of dishonest judgment debtors, as its JSON records."""
    dept = Department(city, "dishonest_debtors")
    for case in city.court_cases:
        dice = dept.dice(case.key)
        party = case.party
        if isinstance(party, Person):
            values = {"iname": dept.name(party, dice), "cardNum": masked_as_courts_publish(party.identity_number),
                      "partyTypeName": "自然人", "businessEntity": "", "sexName": SEX_NAMES[party.sex],
                      "age": city.night.year - party.birth.year}
            related = ""
        else:
            code = party.credit_code
            if dice.chance(0.3):
                code = f"{party.organisation_code[:8]}-{party.organisation_code[8]}"
            values = {"iname": company_name_as_written(party.name, dice), "cardNum": code,
                      "partyTypeName": "法人或其他组织", "businessEntity": party.representative.name,
                      "sexName": "", "age": 0}
            related = f"legal_representative:{party.representative.key}"
        values |= {"caseCode": case.key, "courtName": case.court, "areaName": "湖北",
                   "regDate": f"{case.filed:%Y%m%d}", "gistId": f"({case.filed.year})鄂民初{int(dice.random() * 9000) + 1000}号",
                   "gistUnit": case.court, "duty": case.duty, "performance": case.performance,
                   "disruptTypeName": case.conduct, "publishDate": f"{case.published.year}年{case.published.month:02d}月{case.published.day:02d}日"}
        yield Record(case.key, values, party.key, related=related)


def _years_later(day: date, years: int) -> date:
    return day.replace(year=day.year + years, day=28) if (day.month, day.day) == (2, 29) else day.replace(year=day.year + years)


def _double_publicity(city: City, kind: str, prefix: str) -> Iterator[Record]:
    dept = Department(city, f"administrative_{kind}s")
    styles = {"iso": 0.6, "slash": 0.2, "compact": 0.2}
    for decision in city.decisions:
        if decision.kind != kind:
            continue
        dice = dept.dice(decision.key)
        party = decision.party
        values = {f"{prefix}_WSH": decision.key}
        if isinstance(party, Person):
            values |= {f"{prefix}_XDR_MC": dept.name(party, dice), f"{prefix}_XDR_LB": "自然人",
                       f"{prefix}_XDR_ZJLX": "身份证", f"{prefix}_XDR_ZJHM": dept.identity(party, dice)}
            related = ""
        else:
            reference = dept.company(party, dice)
            values |= {f"{prefix}_XDR_MC": reference["name"], f"{prefix}_XDR_LB": "法人及非法人组织",
                       f"{prefix}_XDR_SHXYM": reference.get("credit_code", ""),
                       f"{prefix}_XDR_GSZC": reference.get("registration_number", ""),
                       f"{prefix}_XDR_ZZJG": reference.get("organisation_code", ""),
                       f"{prefix}_FRDB": party.representative.name}
            related = f"legal_representative:{party.representative.key}"
        decided = date_as_written(decision.decided, dice, styles)
        if kind == "licence":
            values |= {"XK_XKZS": decision.subject, "XK_XKBH": f"{decision.authority_code[2:8]}{decision.key[-8:]}",
                       "XK_NR": f"准予{decision.subject}", "XK_JDRQ": decided, "XK_YXQZ": decided,
                       "XK_YXQZI": date_as_written(_years_later(decision.decided, 5), dice, styles),
                       "XK_XKJG": decision.authority, "XK_XKJGDM": decision.authority_code, "XK_ZT": "有效",
                       "XK_LYDW": decision.authority, "XK_LYDWDM": decision.authority_code}
        else:
            values |= {"CF_WFXW": decision.subject, "CF_SY": f"当事人{decision.subject}",
                       "CF_YJ": "《中华人民共和国行政处罚法》", "CF_CFLB": "罚款",
                       "CF_NR": f"罚款{decision.amount_wan}万元", "CF_NR_FK": f"{decision.amount_wan}",
                       "CF_NR_WFFF": "0", "CF_NR_ZKDX": "", "CF_JDRQ": decided,
                       "CF_YXQ": date_as_written(_years_later(decision.decided, 3), dice, styles),
                       "CF_GSJZQ": date_as_written(_years_later(decision.decided, 3), dice, styles),
                       "CF_CFJG": decision.authority, "CF_CFJGDM": decision.authority_code}
        yield Record(decision.key, values, party.key, related=related)


def administrative_licences(city: City) -> Iterator[Record]:
    """信用办: licences in the double-publicity layout (XK_ fields)."""
    return _double_publicity(city, "licence", "XK")


def administrative_penalties(city: City) -> Iterator[Record]:
    """信用办: penalties in the double-publicity layout (CF_ fields); amounts in 万元."""
    return _double_publicity(city, "penalty", "CF")


EXTRACTS = {
    "household_registration": household_registration,
    "birth_certificates": birth_certificates,
    "death_certificates": death_certificates,
    "marriage_registrations": marriage_registrations,
    "social_insurance_enrolment": social_insurance_enrolment,
    "enterprise_registry": enterprise_registry,
    "social_organisations": social_organisations,
    "taxpayer_credit_ratings": taxpayer_credit_ratings,
    "dishonest_debtors": dishonest_debtors,
    "administrative_licences": administrative_licences,
    "administrative_penalties": administrative_penalties,
}
