"""The true city behind the extracts: its people, enterprises, social organisations and their lives.

Built from one seed with one running random stream, so the same (people, seed) is the same city.
``evolve`` moves the city on by one night (births, deaths, moves, marriages, job changes, new and
closed enterprises, new licences, penalties and court cases, cases performed and withdrawn).
Division codes come from the real lists (citylake/divisions.py); identity numbers, credit codes,
organisation codes and registration numbers are built with their real check algorithms.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from itertools import accumulate
from typing import Callable

from faker.providers.person.zh_CN import Provider as ChineseNames

from citylake import codes, credit_code, divisions, identity

CITY_OF = {code: "十堰市" for code in divisions.SHIYAN} | {code: "荆门市" for code in divisions.JINGMEN}
HISTORICAL_OF = {"420304": ("420321", date(2014, 9, 1)), "420882": ("420821", date(2018, 7, 1))}
STREETS = ["人民路", "北京路", "朝阳路", "车城路", "发展大道", "象山大道", "浏河路", "东风大道", "解放路",
           "五堰街", "柳林路", "白浪路", "月亮湖路", "泉口路", "白庙路"]
TRADES = ["商贸", "建材", "农业科技", "汽车配件", "物流", "餐饮管理", "电子", "文化传媒", "水电安装",
          "房地产开发", "机械制造", "医药连锁", "茶业", "旅游开发", "信息技术"]
# A company's trade name (字号) is two characters of this pool: 100 x 99 of them. A registration
# authority admits no second company with the same trade name and trade in its area
# (企业名称登记管理规定), so a name repeats only across the two cities.
TRADE_NAME_CHARACTERS = ("鑫源华泰恒通宏达金桥瑞丰明珠长青天成安居富康聚贤兴隆盛昌荣德信和顺利祥嘉佳美新正"
                         "大宇博远鸿鹏飞腾龙凤海山川江汉楚荆武当丹神农星辰光辉晨阳春秋景福永久万千百联合创"
                         "业智汇中东南西北宝玉银锦绣诚实强健润泽发")
STATUSES = ["存续"] * 8 + ["吊销", "注销"]
HOSPITALS = ["市人民医院", "市妇幼保健院", "市中医医院", "太和医院", "东风总医院"]
REGISTRATION_START = date(2015, 10, 1)  # credit codes replaced registration numbers ("三证合一")


@dataclass(slots=True)
class Person:
    key: str
    identity_number: str
    name: str
    surname_length: int
    sex: str  # 1 male, 2 female
    ethnicity: str
    birth: date
    division: str
    address: str
    phone: str
    previous_address: str | None = None
    former_name: str | None = None
    died: date | None = None
    resident: bool = True  # on the household register


@dataclass(slots=True)
class Entity:
    key: str
    credit_code: str
    registration_number: str | None  # only for those registered before the 2015 reform
    name: str
    category: str  # 企业 | 社会团体 | 民办非企业单位 | 基金会
    representative: Person
    established: date
    capital_wan: int
    division: str
    address: str
    status: str

    @property
    def organisation_code(self) -> str:
        return self.credit_code[8:17]

    @property
    def is_enterprise(self) -> bool:
        return self.category == "企业"


@dataclass(slots=True)
class Birth:
    certificate: str
    child: Person
    mother: Person | None
    father: Person | None
    hospital: str
    issued: date


@dataclass(slots=True)
class Death:
    certificate: str
    person: Person
    died: date
    place: str


@dataclass(slots=True)
class Marriage:
    certificate: str
    kind: str  # 结婚 | 离婚
    registered: date
    husband: Person
    wife: Person


@dataclass(slots=True)
class Employment:
    key: str
    person: Person
    insured_number: str
    employer: Entity
    start: date
    end: date | None
    types: tuple[str, ...]


@dataclass(slots=True)
class TaxRating:
    key: str
    entity: Entity
    year: int
    rating: str
    rated: date


@dataclass(slots=True)
class CourtCase:
    key: str  # case code, e.g. (2024)鄂0302执1234号
    party: Person | Entity
    court: str
    filed: date
    published: date
    duty: str
    performance: str
    conduct: str


@dataclass(slots=True)
class Decision:
    """An administrative licence (行政许可) or penalty (行政处罚) published under 双公示."""

    key: str  # decision document number (文书号)
    kind: str  # licence | penalty
    party: Person | Entity
    decided: date
    authority: str
    authority_code: str
    subject: str  # certificate name (licences) or violation (penalties)
    amount_wan: float = 0.0


@dataclass
class City:
    seed: int
    night: date
    people: list[Person]  # residents on the household register, and the dead no longer on it
    entities: list[Entity]
    births: list[Birth] = field(default_factory=list)
    deaths: list[Death] = field(default_factory=list)
    marriages: list[Marriage] = field(default_factory=list)
    employments: list[Employment] = field(default_factory=list)
    tax_ratings: list[TaxRating] = field(default_factory=list)
    court_cases: list[CourtCase] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    name_pool: str = ""

    @property
    def residents(self) -> list[Person]:
        return [person for person in self.people if person.resident]


class Builder:
    """One running random stream that makes people, entities and events."""

    def __init__(self, seed: int, night: date):
        self.rng = random.Random(seed)
        self.night = night
        surnames = ChineseNames.last_names
        self.surnames = [s for s in surnames if _gbk(s)]
        self.surname_cumulative = list(accumulate(surnames[s] for s in self.surnames))
        self.given = [g for g in ChineseNames.first_names if _gbk(g)]
        self.given_single = [g for g in self.given if len(g) == 1]
        self.taken_numbers: set[str] = set()
        self.taken_codes: set[str] = set()
        self.taken_names: set[tuple[str, str, str]] = set()  # (city, trade name, trade)
        self.trade_name_characters = list(TRADE_NAME_CHARACTERS)
        self.counters: dict[str, int] = {}

    def next_index(self, kind: str) -> int:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return self.counters[kind]

    # --- people ------------------------------------------------------------------------------

    def name(self, surname: str | None = None) -> tuple[str, int]:
        rng = self.rng
        surname = surname or rng.choices(self.surnames, cum_weights=self.surname_cumulative)[0]
        given = rng.choice(self.given)
        if len(given) == 1 and rng.random() < 0.6:
            given += rng.choice(self.given_single)
        return surname + given, len(surname)

    def address(self, division: str) -> str:
        return (f"湖北省{CITY_OF[division]}{divisions.CURRENT[division]}"
                f"{self.rng.choice(STREETS)}{self.rng.randrange(1, 300)}号")

    def person(self, birth: date | None = None, sex: str | None = None, surname: str | None = None,
               division: str | None = None) -> Person:
        rng = self.rng
        division = division or rng.choice(sorted(divisions.CURRENT))
        birth = birth or date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 82))
        address_code = division
        historical = HISTORICAL_OF.get(division)
        if historical and birth < historical[1] and rng.random() < 0.5:
            address_code = historical[0]  # numbers issued before the county was renamed
        sex = sex or rng.choice("12")
        while True:
            sequence = rng.randrange(0, 500) * 2 + (1 if sex == "1" else 0)
            first17 = f"{address_code}{birth:%Y%m%d}{sequence:03d}"
            number = first17 + identity.check_char(first17)
            if number not in self.taken_numbers:
                self.taken_numbers.add(number)
                break
        ethnicity = "01" if rng.random() < 0.9 else f"{rng.randrange(2, 57):02d}"
        name, surname_length = self.name(surname)
        phone = f"1{rng.choice('3456789')}{rng.randrange(0, 10**9):09d}"
        person = Person(f"P{self.next_index('person'):08d}", number, name, surname_length, sex,
                        ethnicity, birth, division, self.address(division), phone)
        if rng.random() < 0.25:
            person.previous_address = self.address(rng.choice(sorted(divisions.CURRENT)))
        return person

    # --- entities ----------------------------------------------------------------------------

    def credit_code(self, category: str, division: str) -> str:
        while True:
            body8 = "".join(self.rng.choices(credit_code.ALPHABET, k=8))
            first17 = category + division + body8 + credit_code.organisation_check_char(body8)
            code = first17 + credit_code.check_char(first17)
            if code not in self.taken_codes:
                self.taken_codes.add(code)
                return code

    def trade_name(self, city: str, trade: str) -> str:
        """A trade name (字号) not yet registered in the city with this trade."""
        rng = self.rng
        for _ in range(1000):
            word = "".join(rng.sample(self.trade_name_characters, 2))
            if (city, word, trade) not in self.taken_names:
                self.taken_names.add((city, word, trade))
                return word
        raise RuntimeError(f"no free trade name left for {trade} in {city}")

    def enterprise(self, people: list[Person]) -> Entity:
        rng = self.rng
        division = rng.choice(sorted(divisions.CURRENT))
        code = self.credit_code("91", division)
        city = CITY_OF[division].removesuffix("市")
        trade = rng.choice(TRADES)
        word = self.trade_name(city, trade)
        name = f"{city}{word}{trade}有限公司" if rng.random() < 0.5 else f"{word}{trade}（{city}）有限公司"
        established = date(1995, 1, 1) + timedelta(days=rng.randrange(0, (self.night - date(1995, 1, 1)).days))
        registration = None
        if established < REGISTRATION_START:
            first14 = f"{division}{self.next_index('registration'):08d}"
            registration = first14 + codes.registration_check_digit(first14)
        return Entity(f"E{self.next_index('entity'):07d}", code, registration, name, "企业",
                      rng.choice(people), established, rng.choice((10, 50, 100, 200, 500, 1000, 3000)),
                      division, self.address(division), rng.choice(STATUSES))

    def social_organisation(self, people: list[Person]) -> Entity:
        rng = self.rng
        division = rng.choice(sorted(divisions.CURRENT))
        category, prefix, suffix = rng.choice(
            [("社会团体", "51", "协会"), ("民办非企业单位", "52", "培训学校"), ("基金会", "53", "慈善基金会")]
        )
        city = CITY_OF[division]
        trade = rng.choice(TRADES)
        name = f"{city}{self.trade_name(city, trade + suffix)}{trade}{suffix}"
        established = date(2000, 1, 1) + timedelta(days=rng.randrange(0, 365 * 25))
        return Entity(f"E{self.next_index('entity'):07d}", self.credit_code(prefix, division), None,
                      name, category, rng.choice(people), established, rng.choice((3, 10, 50, 200)),
                      division, self.address(division), rng.choice(["正常"] * 9 + ["注销"]))


def _gbk(text: str) -> bool:
    try:
        text.encode("gbk")
        return True
    except UnicodeEncodeError:
        return False


def _age(person: Person, on: date) -> int:
    return on.year - person.birth.year - ((on.month, on.day) < (person.birth.month, person.birth.day))


def _between(rng: random.Random, start: date, end: date) -> date:
    return start + timedelta(days=rng.randrange(0, max((end - start).days, 1)))


def build(people: int, seed: int, night: date, progress: Callable[[int], None] = lambda n: None) -> City:
    """The city on its first night: ``people`` residents and everything that follows from them."""
    builder = Builder(seed, night)
    rng = builder.rng
    residents = []
    for _ in range(people):
        residents.append(builder.person())
        progress(1)
    dead = []
    for _ in range(max(people // 20, 1)):  # died in the last ten years, off the register
        person = builder.person()
        person.resident = False
        person.died = _between(rng, max(person.birth, night - timedelta(days=3650)), night)
        dead.append(person)
        progress(1)
    everyone = residents + dead
    entities = [builder.enterprise(residents) for _ in range(max(people // 10, 20))]
    entities += [builder.social_organisation(residents) for _ in range(max(people // 1000, 5))]
    city = City(seed, night, everyone, entities, name_pool="".join(sorted(set("".join(builder.given)))))
    add_life_events(builder, city, residents, dead, progress)
    city.__dict__["_builder"] = builder  # evolve() continues the same stream
    return city


def add_life_events(builder: Builder, city: City, residents: list[Person], dead: list[Person],
                    progress: Callable[[int], None]) -> None:
    rng, night = builder.rng, city.night
    by_year_sex: dict[tuple[int, str], list[Person]] = {}
    for person in residents:
        by_year_sex.setdefault((person.birth.year, person.sex), []).append(person)

    def someone(year_from: int, year_to: int, sex: str) -> Person | None:
        for _ in range(4):
            group = by_year_sex.get((rng.randrange(year_from, year_to + 1), sex))
            if group:
                return rng.choice(group)
        return None

    # births: certificates exist for everyone born in the city since 1996
    for person in residents:
        if person.birth >= date(1996, 1, 1) and rng.random() < 0.8:
            city.births.append(birth_of(builder, person, someone))
    # deaths: the dead off the register, and a few still on it (cancellation not yet done)
    for person in dead:
        city.deaths.append(death_of(builder, person, person.died))
    for person in rng.sample(residents, k=len(residents) // 500):
        if _age(person, night) > 60:
            person.died = _between(rng, night - timedelta(days=60), night)
            city.deaths.append(death_of(builder, person, person.died))
    # marriages (and some divorces) registered since 2000
    for husband in residents:
        if husband.sex == "1" and 1950 <= husband.birth.year <= 2000 and rng.random() < 0.12:
            wife = someone(husband.birth.year - 2, husband.birth.year + 5, "2")
            if wife is not None:
                city.marriages.extend(marriages_of(builder, husband, wife))
    # employment and its social-insurance enrolments
    enterprises = [entity for entity in city.entities if entity.is_enterprise]
    for person in residents:
        if 18 <= _age(person, night) <= 60 and rng.random() < 0.7 and person.died is None:
            city.employments.extend(employments_of(builder, person, enterprises))
        progress(1)
    # taxpayer credit ratings, evaluated each April for the year before
    for entity in enterprises:
        for year in range(2022, 2026):
            if entity.established.year < year and entity.status == "存续":
                rating = rng.choices("ABMCD", weights=(20, 50, 15, 10, 5))[0]
                city.tax_ratings.append(TaxRating(f"{entity.key}-{year}", entity, year, rating,
                                                  date(year + 1, 4, rng.randrange(1, 29))))
    # court cases: dishonest debtors, persons and organisations
    adults = [person for person in residents if _age(person, night) >= 20]
    for party in rng.sample(adults, k=len(adults) // 250) + rng.sample(enterprises, k=len(enterprises) // 50):
        for _ in range(1 + (rng.random() < 0.3)):
            city.court_cases.append(court_case(builder, party))
    # double publicity: licences and penalties, to organisations and to natural persons
    for entity in enterprises:
        for _ in range(rng.choice((0, 1, 1, 1, 2, 3))):
            city.decisions.append(decision(builder, "licence", entity))
        if rng.random() < 0.15:
            city.decisions.append(decision(builder, "penalty", entity))
    for person in rng.sample(adults, k=len(adults) // 200):
        city.decisions.append(decision(builder, "licence", person))
    for person in rng.sample(adults, k=len(adults) // 1000):
        city.decisions.append(decision(builder, "penalty", person))


def birth_of(builder: Builder, child: Person, someone) -> Birth:
    rng = builder.rng
    mother = someone(child.birth.year - 40, child.birth.year - 20, "2")
    father = someone(child.birth.year - 45, child.birth.year - 22, "1")
    number = f"{chr(ord('M') + child.birth.year % 3)}{child.division}{builder.next_index('birth'):08d}"
    issued = child.birth + timedelta(days=rng.randrange(0, 30))
    return Birth(number, child, mother, father, rng.choice(HOSPITALS), issued)


def death_of(builder: Builder, person: Person, died: date) -> Death:
    place = builder.rng.choice(["医院", "家中", "养老机构", "其他"])
    return Death(f"D{person.division}{builder.next_index('death'):08d}", person, died, place)


def marriages_of(builder: Builder, husband: Person, wife: Person) -> list[Marriage]:
    rng = builder.rng
    earliest = max(date(husband.birth.year + 22, 1, 1), date(wife.birth.year + 20, 1, 1), date(2000, 1, 1))
    if earliest >= builder.night:
        return []
    married = _between(rng, earliest, builder.night)
    year = married.year
    records = [Marriage(f"J{husband.division}-{year}-{builder.next_index('marriage'):06d}", "结婚",
                        married, husband, wife)]
    if rng.random() < 0.1 and married < builder.night - timedelta(days=400):
        divorced = _between(rng, married + timedelta(days=365), builder.night)
        records.append(Marriage(f"L{husband.division}-{divorced.year}-{builder.next_index('marriage'):06d}",
                                "离婚", divorced, husband, wife))
    return records


def employments_of(builder: Builder, person: Person, enterprises: list[Entity]) -> list[Employment]:
    rng, night = builder.rng, builder.night
    start = max(date(person.birth.year + 20, 1, 1), date(1998, 1, 1))
    insured = f"42{builder.next_index('insured'):010d}"
    spells = []
    while start < night and len(spells) < 8:
        employer = rng.choice(enterprises)
        length = timedelta(days=rng.randrange(180, 365 * 6))
        end = start + length if rng.random() < 0.7 else None
        if end is not None and end >= night:
            end = None
        types = ("110", "310") + tuple(t for t, p in (("210", 0.8), ("410", 0.8), ("510", 0.7)) if rng.random() < p)
        spells.append(Employment(f"{insured}-{len(spells) + 1}", person, insured, employer, start, end, types))
        if end is None:
            break
        start = end + timedelta(days=rng.randrange(1, 200))
    return spells


COURTS = {code: f"{CITY_OF[code]}{name}人民法院" for code, name in divisions.CURRENT.items()}
DUTIES = ["偿还借款本金及利息", "支付货款", "支付工程款", "支付劳动报酬", "赔偿损失", "返还租赁物并支付租金"]
CONDUCTS = ["有履行能力而拒不履行生效法律文书确定义务", "违反财产报告制度", "违反限制消费令",
            "以虚假诉讼、虚假仲裁或者以隐匿、转移财产等方法规避执行"]


def court_case(builder: Builder, party: Person | Entity) -> CourtCase:
    rng = builder.rng
    division = party.division
    filed = _between(rng, date(2016, 1, 1), builder.night - timedelta(days=30))
    key = f"({filed.year})鄂{division[2:]}执{builder.next_index('case')}号"
    published = filed + timedelta(days=rng.randrange(20, 200))
    published = min(published, builder.night)
    return CourtCase(key, party, COURTS[division], filed, published, rng.choice(DUTIES),
                     rng.choice(["全部未履行"] * 4 + ["部分未履行"]), rng.choice(CONDUCTS))


AUTHORITIES = [("市场监督管理局", "市监"), ("生态环境局", "环"), ("住房和城乡建设局", "建"),
               ("卫生健康委员会", "卫"), ("交通运输局", "交"), ("应急管理局", "应急")]
LICENCES = ["食品经营许可证", "排污许可证", "建筑施工许可证", "公共场所卫生许可证", "道路运输经营许可证",
            "危险化学品经营许可证", "医师执业证书"]
VIOLATIONS = ["未按规定公示信息", "超标排放污染物", "无证经营", "销售不合格产品", "违反安全生产规定",
              "未按规定办理施工许可"]


def decision(builder: Builder, kind: str, party: Person | Entity) -> Decision:
    rng = builder.rng
    city = CITY_OF[party.division]
    authority, short = rng.choice(AUTHORITIES)
    authority_code = _authority_code(city + authority, party.division)
    decided = _between(rng, date(2019, 1, 1), builder.night)
    word = "许" if kind == "licence" else "罚"
    key = f"{city[:2]}{short}{word}〔{decided.year}〕{builder.next_index('decision')}号"
    if kind == "licence":
        subject = "医师执业证书" if isinstance(party, Person) else rng.choice(LICENCES[:-1])
        return Decision(key, kind, party, decided, city + authority, authority_code, subject)
    amount = round(rng.choice((0.05, 0.2, 0.5, 1, 2, 5, 10, 20)) * (1 + rng.random()), 2)
    return Decision(key, kind, party, decided, city + authority, authority_code, rng.choice(VIOLATIONS), amount)


@lru_cache(maxsize=None)
def _authority_code(name: str, division: str) -> str:
    """A government organ's own credit code (category 11), derived from its name."""
    body8 = f"{int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10**8:08d}"
    first17 = "11" + division[:4] + "00" + body8 + credit_code.organisation_check_char(body8)
    return first17 + credit_code.check_char(first17)


# --- the next night -------------------------------------------------------------------------------

EVOLUTION = {  # per night, as shares of the city
    "births": 0.0005,  # of residents: newborns (household register and birth certificate)
    "deaths": 0.0004,  # of residents: deaths (certificate; half also leave the register)
    "moves": 0.005,  # of residents: a new address (household register changes)
    "marriages": 0.0003,  # of residents: new marriage registrations
    "job_changes": 0.004,  # of employed people: leave (enrolment ends) and start elsewhere
    "new_enterprises": 0.003,  # of enterprises
    "closures": 0.002,  # of enterprises: deregistered (注销)
    "decisions": 0.005,  # of licences and penalties: new ones
    "court_cases": 0.01,  # of cases: new ones
    "cases_performed": 0.01,  # of cases: performed or withdrawn, gone from the public list
}


def evolve(city: City, night: date) -> City:
    """The city one night later (``night``), continuing the city's own random stream."""
    builder: Builder = city.__dict__["_builder"]
    builder.night = night
    rng = builder.rng
    residents = city.residents
    rate = EVOLUTION

    def some(population: list, share: float) -> list:
        return rng.sample(population, k=min(len(population), max(1, round(len(population) * share))))

    for _ in range(max(1, round(len(residents) * rate["births"]))):
        mother = rng.choice([p for p in some(residents, 0.01) if p.sex == "2"] or residents)
        child = builder.person(birth=night - timedelta(days=rng.randrange(1, 20)), division=mother.division)
        city.people.append(child)
        city.births.append(Birth(f"N{child.division}{builder.next_index('birth'):08d}", child, mother,
                                 None, rng.choice(HOSPITALS), night - timedelta(days=1)))
    for index, person in enumerate(some(residents, rate["deaths"])):
        if person.died is None:
            person.died = night - timedelta(days=rng.randrange(1, 5))
            city.deaths.append(death_of(builder, person, person.died))
            person.resident = index % 2 == 1  # every other one already off the register
    for person in some(residents, rate["moves"]):
        person.previous_address, person.address = person.address, builder.address(person.division)
    for husband in some([p for p in residents if p.sex == "1" and 1960 <= p.birth.year <= 2002], rate["marriages"] * 2):
        wife = rng.choice([p for p in residents if p.sex == "2"])
        city.marriages.append(Marriage(f"J{husband.division}-{night.year}-{builder.next_index('marriage'):06d}",
                                       "结婚", night - timedelta(days=1), husband, wife))
    enterprises = [entity for entity in city.entities if entity.is_enterprise]
    current = [e for e in city.employments if e.end is None and e.person.died is None]
    for spell in some(current, rate["job_changes"]):
        spell.end = night - timedelta(days=1)
        employer = rng.choice(enterprises)
        city.employments.append(Employment(f"{spell.insured_number}-n{night:%m%d}", spell.person,
                                           spell.insured_number, employer, night, None, spell.types))
    for _ in range(max(1, round(len(enterprises) * rate["new_enterprises"]))):
        entity = builder.enterprise(residents)
        entity.established, entity.status = night - timedelta(days=1), "存续"
        city.entities.append(entity)
    for entity in some([e for e in enterprises if e.status == "存续"], rate["closures"]):
        entity.status = "注销"
    decided = [d.party for d in city.decisions]
    for party in some(decided, rate["decisions"]):
        city.decisions.append(decision(builder, rng.choice(["licence", "licence", "penalty"]), party))
    for party in some([c.party for c in city.court_cases], rate["court_cases"]):
        city.court_cases.append(court_case(builder, party))
    gone = {id(case) for case in some(city.court_cases, rate["cases_performed"])}
    city.court_cases = [case for case in city.court_cases if id(case) not in gone]
    city.night = night
    return city
