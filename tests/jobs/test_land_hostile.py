"""jobs/land.py under hostile and faulty departments: bytes, sheets, keys, paths, templates, YAML.

Each case delivers one literal extract (or contract) to a fresh lake, lands it through the job, and
asserts the exact outcome: which lines landed, which were quarantined with which rule and reason,
or why the batch was rejected, and the ledger's counts. No identity number survives in a ledger
field, a log line or an error.
"""

import json
import logging
import os
import re

import pytest
from pyspark.sql import functions as F

from citylake import contracts, lake, sources
from citylake.landing import LandingRejected
from tests.conftest import NIGHT, load_job, workbook

pytestmark = pytest.mark.spark
land_job = load_job("land")

ID = "11010519491231002X"  # the domain's worked example: a valid identity number
ID2 = "110105194912310037"
IDENTITY_LIKE = re.compile(r"[0-9]{17}[0-9X]")

COLUMNS = """columns:
  - {source: sfzh, standard: identity_number, kind: identity_number, type: string, required: true, personal_data: sensitive}
  - {source: xm, standard: name, kind: person_name, type: string, required: true, personal_data: personal}
  - {source: zz, standard: address, kind: address, type: string, required: false, personal_data: personal}
"""


def contract_text(name: str, format: str = "csv", encoding: str = "gbk", location: str | None = None,
                  extra: str = "") -> str:
    location = location or "{incoming}/{run_date}/test/" + f"{name}.{format}"
    return (f"name: {name}\ndepartment: test\ndataset: test\nlibrary: population\nformat: {format}\n"
            f"encoding: {encoding}\nlocation: \"{location}\"\nschedule: \"0 1 * * *\"\nkeys: [identity_number]\n"
            f"{extra}{COLUMNS}")


@pytest.fixture
def declared(tmp_path, monkeypatch):
    """A sources folder of this test's own, holding the test's contracts (``declared(name, ...)``)."""
    folder = tmp_path / "sources"
    folder.mkdir()
    monkeypatch.setattr(contracts.load, "__defaults__", (folder,))

    def declare(name: str, text: str | None = None, **options) -> str:
        (folder / f"{name}.yaml").write_text(text if text is not None else contract_text(name, **options),
                                             encoding="utf-8")
        return name

    declare.folder = folder
    return declare


def deliver(settings, name: str, data: bytes, format: str = "csv"):
    path = settings.incoming_dir / NIGHT / "test" / f"{name}.{format}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def land(spark, settings, name):
    return land_job.land(spark, settings, name, NIGHT, "run-hostile")


def rejected(spark, settings, name) -> str:
    with pytest.raises(LandingRejected) as error:
        land(spark, settings, name)
    return str(error.value)


def ledger(spark, settings, name):
    rows = lake.read(spark, lake.path(settings, *lake.LANDING_LEDGER)).where(
        F.col("batch_id") == lake.batch_id(name, NIGHT)).collect()
    assert len(rows) == 1
    return rows[0]


def counts(entry) -> tuple:
    return entry.status, entry.rows_read, entry.rows_landed, entry.rows_quarantined


def raw(spark, settings, name) -> dict[int, dict]:
    path = lake.path(settings, lake.RAW, name)
    if not lake.exists(spark, path):
        return {}
    return {row._line_number: {k: v for k, v in row.asDict().items() if not k.startswith("_")}
            for row in lake.read(spark, path).collect()}


def quarantined(spark, settings, name) -> dict[int, tuple[str, str]]:
    path = lake.path(settings, *lake.QUARANTINE)
    if not lake.exists(spark, path):
        return {}
    return {row.line_number: (row.rule_id, row.reason)
            for row in lake.read(spark, path).where(F.col("source") == name).collect()}


def no_identity_number(*texts) -> bool:
    return not any(IDENTITY_LIKE.search(str(text)) for text in texts if text is not None)


def gbk(text: str) -> bytes:
    return text.encode("gbk")


# --- bytes and encodings ---------------------------------------------------------------------------


def test_hostile_utf8_line_in_a_gbk_extract_is_quarantined_not_published_as_mojibake(spark, settings_in, declared):
    name = declared("people")
    data = gbk(f"sfzh,xm,zz\n{ID},张三,北京\n") + f"{ID2},王伟,上海\n".encode("utf-8") + gbk(f"{ID},李四,广州\n")
    deliver(settings_in, name, data)
    land(spark, settings_in, name)
    assert {line: row["xm"] for line, row in raw(spark, settings_in, name).items()} == {2: "张三", 4: "李四"}
    assert quarantined(spark, settings_in, name) == {
        3: ("LAND-ENCODING", "line is UTF-8, not the declared gbk (mixed encodings)")}
    assert counts(ledger(spark, settings_in, name)) == ("landed", 3, 2, 1)


def test_hostile_utf8_line_in_a_gbk_json_lines_extract_is_quarantined(spark, settings_in, declared):
    name = declared("people", format="jsonl")
    line = json.dumps({"sfzh": ID, "xm": "王伟"}, ensure_ascii=False)
    deliver(settings_in, name, gbk(line + "\n") + (line + "\n").encode("utf-8"), "jsonl")
    land(spark, settings_in, name)
    assert {line: row["xm"] for line, row in raw(spark, settings_in, name).items()} == {1: "王伟"}
    assert quarantined(spark, settings_in, name)[2][0] == "LAND-ENCODING"
    assert counts(ledger(spark, settings_in, name)) == ("landed", 2, 1, 1)


def test_hostile_bytes_outside_the_encoding_are_quarantined_at_their_offset(spark, settings_in, declared):
    name = declared("people")
    deliver(settings_in, name, gbk(f"sfzh,xm,zz\n{ID},张三,北京\n") + b"1,\xff\xfe,x\n")
    land(spark, settings_in, name)
    assert quarantined(spark, settings_in, name) == {3: ("LAND-ENCODING", "undecodable bytes for gbk at byte 2")}
    assert counts(ledger(spark, settings_in, name)) == ("landed", 2, 1, 1)


def test_hostile_gbk_extract_sent_as_utf8_is_rejected_naming_the_encoding(spark, settings_in, declared):
    name = declared("people")
    lines = "".join(f"{ID},王伟{n},北京市朝阳区\n" for n in range(20))
    deliver(settings_in, name, gbk("sfzh,xm,zz\n") + lines.encode("utf-8"))
    reason = rejected(spark, settings_in, name)
    assert "not decode" in reason or "look like" in reason
    assert counts(ledger(spark, settings_in, name)) == ("rejected", 0, 0, 0)
    assert raw(spark, settings_in, name) == {}


def test_hostile_duplicated_gbk_header_is_rejected_as_duplicated_not_as_another_encoding(spark, settings_in, declared):
    name = declared("people")
    deliver(settings_in, name, gbk(f"sfzh,xm,xm\n{ID},张三,张三\n"))
    reason = rejected(spark, settings_in, name)
    assert reason.endswith("duplicated column(s) xm") and "look like" not in reason
    assert ledger(spark, settings_in, name).status == "rejected"


def test_hostile_utf16_contract_is_refused_before_any_line_is_read(spark, settings_in, declared):
    name = declared("people", encoding="utf-16")
    deliver(settings_in, name, "sfzh,xm\n".encode("utf-16"))
    assert "cannot be read line by line" in rejected(spark, settings_in, name)
    assert counts(ledger(spark, settings_in, name)) == ("rejected", 0, 0, 0)


def test_hostile_nul_and_control_bytes_land_as_delivered(spark, settings_in, declared):
    name = declared("people")
    deliver(settings_in, name, gbk(f"sfzh,xm,zz\n{ID},张\x00三,\x07\n"))
    land(spark, settings_in, name)
    assert raw(spark, settings_in, name) == {2: {"sfzh": ID, "xm": "张\x00三", "zz": "\x07"}}
    assert counts(ledger(spark, settings_in, name)) == ("landed", 1, 1, 0)


# --- RFC 4180 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, landed", [
    # a quoted field holding line breaks: one record, numbered by its first line
    (f'{ID},张三,"北京市\n朝阳区\n三里屯"\n{ID2},李四,"广州"\n',
     {2: {"sfzh": ID, "xm": "张三", "zz": "北京市\n朝阳区\n三里屯"}, 5: {"sfzh": ID2, "xm": "李四", "zz": "广州"}}),
    # CRLF inside and between records, escaped quotes and a comma inside quotes
    (f'{ID},"张""三","a,b\r\nc"\r\n{ID2},李四,x\r\n',
     {2: {"sfzh": ID, "xm": '张"三', "zz": "a,b\nc"}, 4: {"sfzh": ID2, "xm": "李四", "zz": "x"}}),
], ids=["hostile-lf", "hostile-crlf"])
def test_hostile_quoted_fields_holding_line_breaks_land_whole(spark, settings_in, declared, body, landed):
    name = declared("people")
    deliver(settings_in, name, gbk("sfzh,xm,zz\n" + body))
    land(spark, settings_in, name)
    assert raw(spark, settings_in, name) == landed
    assert counts(ledger(spark, settings_in, name)) == ("landed", 2, 2, 0)


def test_hostile_quote_that_never_closes_quarantines_its_line_only(spark, settings_in, declared):
    name = declared("people")
    deliver(settings_in, name, gbk(f'sfzh,xm,zz\n{ID},"张三,北京\n{ID2},李四,上海\n{ID},王五,广州\n'))
    land(spark, settings_in, name)
    assert sorted(raw(spark, settings_in, name)) == [3, 4]
    assert quarantined(spark, settings_in, name) == {
        2: ("LAND-COLUMNS", "wrong column count: expected 3, found 2")}
    assert counts(ledger(spark, settings_in, name)) == ("landed", 3, 2, 1)


def test_hostile_quoted_field_longer_than_the_record_limit_is_quarantined_line_by_line(spark, settings_in, declared):
    name = declared("people")
    body = "\n".join(["x"] * 60)
    deliver(settings_in, name, gbk(f'sfzh,xm,zz\n{ID},张三,"{body}"\n{ID2},李四,上海\n'))
    land(spark, settings_in, name)
    assert list(raw(spark, settings_in, name)) == [62]
    assert sorted(quarantined(spark, settings_in, name)) == list(range(2, 62))
    assert counts(ledger(spark, settings_in, name)) == ("landed", 61, 1, 60)


# --- workbooks -----------------------------------------------------------------------------------------


def test_hostile_second_sheet_with_its_columns_in_another_order_lands_by_name(spark, settings_in, declared):
    name = declared("people", format="xlsx")
    first = [["sfzh", "xm", "zz"]] + [[f"1{n:017d}", f"甲{n}", "北京"] for n in range(20)]
    second = [["zz", "sfzh", "xm"]] + [["上海", f"2{n:017d}", f"乙{n}"] for n in range(10)]
    deliver(settings_in, name, workbook({"一": first, "二": second}), "xlsx")
    land(spark, settings_in, name)
    landed = raw(spark, settings_in, name)
    assert len(landed) == 30
    assert landed[22] == {"sfzh": f"2{0:017d}", "xm": "乙0", "zz": "上海"}  # the second sheet, by name
    assert counts(ledger(spark, settings_in, name)) == ("landed", 30, 30, 0)


def test_hostile_sheet_with_another_header_is_quarantined_not_dropped(spark, settings_in, declared):
    name = declared("people", format="xlsx")
    deliver(settings_in, name, workbook({"一": [["sfzh", "xm", "zz"], [ID, "张三", "北京"]],
                                         "二": [["sfzh", "姓名"], [ID2, "李四"], [ID, "王五"]]}), "xlsx")
    land(spark, settings_in, name)
    assert list(raw(spark, settings_in, name)) == [2]
    reason = "the sheet's header is not the first sheet's; missing xm, zz; other 姓名"
    assert quarantined(spark, settings_in, name) == {3: ("LAND-SHEET", f"sheet 二 row 2: {reason}"),
                                                     4: ("LAND-SHEET", f"sheet 二 row 3: {reason}")}
    assert counts(ledger(spark, settings_in, name)) == ("landed", 3, 1, 2)


def test_hostile_sheet_whose_first_row_is_blank_has_its_rows_quarantined(spark, settings_in, declared):
    name = declared("people", format="xlsx")
    deliver(settings_in, name, workbook({"一": [["sfzh", "xm", "zz"], [ID, "张三", "北京"]],
                                         "二": [[None, None], [ID2, "李四", "上海"]]}), "xlsx")
    land(spark, settings_in, name)
    assert list(raw(spark, settings_in, name)) == [2]
    assert [rule for rule, _ in quarantined(spark, settings_in, name).values()] == ["LAND-SHEET"]
    assert counts(ledger(spark, settings_in, name)) == ("landed", 2, 1, 1)


def test_hostile_sheet_title_holding_an_identity_number_is_masked_in_reasons(spark, settings_in, declared):
    name = declared("people", format="xlsx")
    deliver(settings_in, name, workbook({"一": [["sfzh", "xm", "zz"]],
                                         ID: [["sfzh"], [ID2]]}), "xlsx")
    land(spark, settings_in, name)
    (reason,) = [reason for _, reason in quarantined(spark, settings_in, name).values()]
    assert reason.startswith("sheet ****************** row 2") and no_identity_number(reason)


def test_hostile_csv_bytes_named_as_a_workbook_are_rejected(spark, settings_in, declared):
    name = declared("people", format="xlsx")
    deliver(settings_in, name, gbk(f"sfzh,xm\n{ID},张三\n"), "xlsx")
    assert rejected(spark, settings_in, name).endswith("not an Excel workbook (xlsx)")
    assert counts(ledger(spark, settings_in, name)) == ("rejected", 0, 0, 0)


def test_hostile_cells_beyond_the_header_are_quarantined(spark, settings_in, declared):
    name = declared("people", format="xlsx")
    deliver(settings_in, name, workbook({"一": [["sfzh", "xm", "zz"], [ID, "张三", "北京", "多余"]]}), "xlsx")
    land(spark, settings_in, name)
    assert quarantined(spark, settings_in, name) == {
        2: ("LAND-COLUMNS", "sheet 一 row 2: 1 cell(s) beyond the header's 3 columns")}
    assert counts(ledger(spark, settings_in, name)) == ("landed", 1, 0, 1)


# --- JSON keys -------------------------------------------------------------------------------------------


def jsonl(*records: str) -> bytes:
    return "".join(record + "\n" for record in records).encode("utf-8")


def test_hostile_json_key_given_twice_is_quarantined_not_silently_one(spark, settings_in, declared):
    name = declared("people", format="jsonl", encoding="utf-8")
    deliver(settings_in, name, jsonl(f'{{"sfzh": "{ID}", "xm": "张三", "xm": "李四"}}',
                                     f'{{"sfzh": "{ID2}", "xm": "王五"}}'), "jsonl")
    land(spark, settings_in, name)
    assert raw(spark, settings_in, name) == {2: {"sfzh": ID2, "xm": "王五"}}  # zz never given: no column
    assert quarantined(spark, settings_in, name) == {
        1: ("LAND-PARSE", "a key given twice (keys match ignoring letter case)")}
    assert counts(ledger(spark, settings_in, name)) == ("landed", 2, 1, 1)


def test_hostile_json_key_in_another_case_lands_as_the_contract_column(spark, settings_in, declared):
    name = declared("people", format="jsonl", encoding="utf-8")
    deliver(settings_in, name, jsonl(f'{{"SFZH": "{ID}", "Xm": "张三"}}', f'{{"sfzh": "{ID2}", "xm": "李四"}}'),
            "jsonl")
    land(spark, settings_in, name)
    assert raw(spark, settings_in, name) == {1: {"sfzh": ID, "xm": "张三"}, 2: {"sfzh": ID2, "xm": "李四"}}
    assert counts(ledger(spark, settings_in, name)) == ("landed", 2, 2, 0)
    assert ledger(spark, settings_in, name).new_columns is None


def test_hostile_json_key_in_two_cases_on_one_line_is_quarantined(spark, settings_in, declared):
    name = declared("people", format="jsonl", encoding="utf-8")
    deliver(settings_in, name, jsonl(f'{{"sfzh": "{ID}", "xm": "张三", "XM": "李四"}}',
                                     f'{{"sfzh": "{ID2}", "xm": "王五"}}'), "jsonl")
    land(spark, settings_in, name)
    assert list(raw(spark, settings_in, name)) == [2]
    assert quarantined(spark, settings_in, name)[1][0] == "LAND-PARSE"
    assert counts(ledger(spark, settings_in, name)) == ("landed", 2, 1, 1)


def test_hostile_unknown_keys_in_two_cases_are_one_new_column(spark, settings_in, declared):
    name = declared("people", format="jsonl", encoding="utf-8")
    deliver(settings_in, name, jsonl(f'{{"sfzh": "{ID}", "xm": "张三", "Extra": "1"}}',
                                     f'{{"sfzh": "{ID2}", "xm": "李四", "extra": "2"}}'), "jsonl")
    land(spark, settings_in, name)
    assert {line: row["Extra"] for line, row in raw(spark, settings_in, name).items()} == {1: "1", 2: "2"}
    assert ledger(spark, settings_in, name).new_columns == "Extra"


def test_hostile_json_values_that_are_not_objects_or_have_trailing_text_are_quarantined(spark, settings_in, declared):
    name = declared("people", format="jsonl", encoding="utf-8")
    deliver(settings_in, name, jsonl("[1, 2]", f'{{"sfzh": "{ID}", "xm": "张三"}} trailing',
                                     f'{{"sfzh": "{ID2}", "xm": {{"nested": 1}}}}'), "jsonl")
    land(spark, settings_in, name)
    assert raw(spark, settings_in, name) == {3: {"sfzh": ID2, "xm": '{"nested":1}'}}
    assert quarantined(spark, settings_in, name) == {1: ("LAND-PARSE", "not a JSON object"),
                                                     2: ("LAND-PARSE", "not a JSON object")}
    assert counts(ledger(spark, settings_in, name)) == ("landed", 3, 1, 2)


# --- identity numbers where names belong ------------------------------------------------------------------


def test_hostile_identity_number_as_a_header_cell_is_masked_in_ledger_and_log(spark, settings_in, declared, caplog):
    name = declared("people")
    deliver(settings_in, name, gbk(f"sfzh,xm,{ID}\n{ID2},张三,x\n"))
    with caplog.at_level(logging.WARNING):
        result = land(spark, settings_in, name)
    entry = ledger(spark, settings_in, name)
    assert counts(entry) == ("landed", 1, 1, 0)
    assert entry.new_columns == "*" * 18 and result["new_columns"] == ["*" * 18]
    assert "new column(s) ****************** kept" in caplog.text
    assert no_identity_number(caplog.text, *entry.asDict().values())


def test_hostile_identity_number_as_a_json_key_is_masked_in_the_ledger(spark, settings_in, declared):
    name = declared("people", format="jsonl", encoding="utf-8")
    deliver(settings_in, name, jsonl(f'{{"sfzh": "1", "xm": "张三", "{ID}": "x"}}'), "jsonl")
    land(spark, settings_in, name)
    assert ledger(spark, settings_in, name).new_columns == "*" * 18


def test_hostile_identity_number_as_a_json_key_is_masked_in_a_quarantine_reason(spark, settings_in, declared):
    name = declared("people", format="jsonl", encoding="utf-8")
    deliver(settings_in, name, jsonl(f'{{"sfzh": "1", "xm": "张三", "{ID}": "{"x" * 5000}"}}'), "jsonl")
    land(spark, settings_in, name)
    assert quarantined(spark, settings_in, name) == {
        1: ("LAND-OVERSIZED", "oversized field(s) ****************** over 4000 characters")}
    assert counts(ledger(spark, settings_in, name)) == ("landed", 1, 0, 1)


def test_hostile_identity_number_in_a_rejected_header_is_masked_in_the_error_and_ledger(spark, settings_in, declared):
    name = declared("people")
    deliver(settings_in, name, gbk(f"sfzh,xm,{ID},{ID}\n1,张三,x,y\n"))
    reason = rejected(spark, settings_in, name)
    entry = ledger(spark, settings_in, name)
    assert "duplicated column(s) ******************" in reason
    assert no_identity_number(reason, entry.reason) and entry.status == "rejected"


def test_hostile_identity_number_in_full_width_digits_is_masked_too(spark, settings_in, declared):
    name = declared("people")
    wide = ID.translate(str.maketrans("0123456789X", "０１２３４５６７８９Ｘ"))
    deliver(settings_in, name, gbk(f"sfzh,xm,{wide}\n1,张三,x\n".replace("Ｘ", "X")))
    land(spark, settings_in, name)
    assert set(ledger(spark, settings_in, name).new_columns) == {"*"}


# --- paths and templates -----------------------------------------------------------------------------------


@pytest.mark.parametrize("location, problem", [
    ("{incoming}/{run_date}/../../etc/passwd", "'..'"),
    ("{incoming}/{run_date}/{0}", "placeholder(s) '{0}' not allowed"),
    ("{incoming.__class__}/{run_date}/x.csv", "not allowed"),
    ("{incoming}/{run_date!r}/x.csv", "not allowed"),
    ("/etc/{run_date}/passwd", "must start with {incoming}/"),
    ("{incoming}/{run_date}//x.csv", "empty segments"),
    ("{incoming}/{run_date}/x.csv/{incoming}", "name it once"),
    ("{incoming}/{run_date}/{", "not a valid template"),
])
def test_hostile_location_template_that_could_leave_the_drop_folder_is_refused(
        spark, settings_in, declared, location, problem):
    name = declared("people", location=location)
    with pytest.raises(contracts.ContractError, match=re.escape(problem)):
        contracts.load(name)
    problems = dict((path.stem, error) for path, error in sources.validate_all(declared.folder))
    assert problem in problems[name]
    # landing it records the refusal, reads nothing and writes no table
    assert problem in rejected(spark, settings_in, name)
    entry = ledger(spark, settings_in, name)
    assert counts(entry) == ("rejected", 0, 0, 0) and problem in entry.reason
    assert raw(spark, settings_in, name) == {}


def test_hostile_template_resolving_outside_is_refused_at_landing_too(spark, settings_in, declared):
    name = declared("people")
    contract = contracts.load(name)
    forged = contract.model_copy(update={"location": "{incoming}/{run_date}/../x"})  # past validation
    with pytest.raises(contracts.ContractError, match="does not stay inside the drop folder"):
        forged.location_for(str(settings_in.incoming_dir), NIGHT)


@pytest.mark.parametrize("argv, what", [
    (["--source", "../../x", "--run-date", NIGHT], "not a plain identifier"),
    (["--source", "household_registration", "--run-date", "../../2026-11-23"], "is not YYYY-MM-DD"),
    (["--source", "household_registration", "--run-date", "2026-02-30"], "day is out of range"),
    (["--source", "household_registration", "--run-date", NIGHT, "--run-id", "a b"], "run id"),
])
def test_hostile_job_arguments_are_refused_before_anything_runs(capsys, argv, what):
    with pytest.raises(SystemExit) as exit:
        land_job.main(argv)
    assert exit.value.code == 2 and what in capsys.readouterr().err


def test_hostile_source_name_with_a_path_is_refused_by_the_library_too(spark, settings_in):
    with pytest.raises(contracts.ContractError, match="not a plain identifier"):
        land(spark, settings_in, "../../sources/household_registration")
    assert not lake.exists(spark, lake.path(settings_in, *lake.LANDING_LEDGER))  # refused before any write


def test_hostile_symlinked_extract_is_refused(spark, settings_in, declared, tmp_path):
    name = declared("people")
    outside = tmp_path / "outside.csv"
    outside.write_bytes(gbk(f"sfzh,xm,zz\n{ID},张三,北京\n"))
    path = settings_in.incoming_dir / NIGHT / "test" / f"{name}.csv"
    path.parent.mkdir(parents=True)
    path.symlink_to(outside)
    assert "is a symbolic link" in rejected(spark, settings_in, name)
    assert counts(ledger(spark, settings_in, name)) == ("rejected", 0, 0, 0)
    assert raw(spark, settings_in, name) == {}


def test_hostile_symlinked_folder_in_the_drop_folder_is_refused(spark, settings_in, declared, tmp_path):
    name = declared("people")
    elsewhere = tmp_path / "elsewhere" / "test"
    elsewhere.mkdir(parents=True)
    (elsewhere / f"{name}.csv").write_bytes(gbk(f"sfzh,xm,zz\n{ID},张三,北京\n"))
    settings_in.incoming_dir.mkdir(parents=True, exist_ok=True)
    (settings_in.incoming_dir / NIGHT).symlink_to(elsewhere.parent)
    reason = rejected(spark, settings_in, name)
    assert f"{NIGHT} in the drop folder is a symbolic link" in reason
    assert counts(ledger(spark, settings_in, name)) == ("rejected", 0, 0, 0)


def test_hostile_folder_where_the_extract_should_be_is_not_a_delivery(spark, settings_in, declared):
    name = declared("people")
    (settings_in.incoming_dir / NIGHT / "test" / f"{name}.csv").mkdir(parents=True)
    assert "not a regular file" in rejected(spark, settings_in, name)
    assert counts(ledger(spark, settings_in, name)) == ("rejected", 0, 0, 0)


# --- YAML contracts ------------------------------------------------------------------------------------------


def test_hostile_deeply_nested_yaml_is_a_contract_error_not_a_crash(spark, settings_in, declared):
    name = declared("people", text="columns: " + "[" * 50_000 + "]" * 50_000 + "\n")
    good = declared("good")
    with pytest.raises(contracts.ContractError, match="nested too deeply|not valid YAML"):
        contracts.load(name)
    valid, broken = contracts.load_each(declared.folder)
    assert set(valid) == {good} and set(broken) == {name}
    assert "nested too deeply" in rejected(spark, settings_in, name)
    assert counts(ledger(spark, settings_in, name)) == ("rejected", 0, 0, 0)


def test_hostile_yaml_alias_bomb_is_refused_quickly(declared):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join(['*' + chr(97 + n)] * 9)}]\n" for n in range(8))
    name = declared("people", text=bomb + "name: people\ncolumns: *i\nkeys: *i\ndataset: *i\n")
    with pytest.raises(contracts.ContractError, match="people.yaml"):
        contracts.load(name)


@pytest.mark.parametrize("text, problem", [
    ("- just\n- a list\n", "(top): a contract is a mapping"),
    ("name: people\n" + "# padding\n" * 40_000, "larger than"),
    (b"name: \xff\xfe\n", "not UTF-8"),
    (contract_text("people").replace("name: people", "name: ../people"), "name: Value error"),
    (contract_text("people") + "unexpected: 1\n", "unexpected: Extra inputs are not permitted"),
    (contract_text("people").replace("keys: [identity_number]", "keys: [nope]"), "keys ['nope']"),
])
def test_hostile_contract_files_are_errors_naming_the_file(declared, text, problem):
    if isinstance(text, bytes):
        (declared.folder / "people.yaml").write_bytes(text)
    else:
        declared("people", text=text)
    with pytest.raises(contracts.ContractError) as error:
        contracts.load("people")
    assert "people.yaml" in str(error.value) and problem in str(error.value)


def test_hostile_symlinked_contract_is_not_read(declared, tmp_path):
    target = tmp_path / "elsewhere.yaml"
    target.write_text(contract_text("people"), encoding="utf-8")
    (declared.folder / "people.yaml").symlink_to(target)
    with pytest.raises(contracts.ContractError, match="not a regular file"):
        contracts.load("people")


# --- re-deliveries -------------------------------------------------------------------------------------------


def test_hostile_empty_redelivery_of_a_good_night_keeps_the_ledger_true_to_the_tables(spark, settings_in, declared):
    name = declared("people")
    deliver(settings_in, name, gbk(f"sfzh,xm,zz\n{ID},张三,北京\n{ID2},李四,上海\n"))
    land(spark, settings_in, name)
    deliver(settings_in, name, b"")
    assert "empty file" in rejected(spark, settings_in, name)
    entry = ledger(spark, settings_in, name)
    assert counts(entry) == ("landed", 2, 2, 0)  # what raw holds
    assert entry.reason.startswith("re-delivery refused at ") and "empty file" in entry.reason
    assert sorted(raw(spark, settings_in, name)) == [2, 3]


def test_hostile_redelivery_that_lands_replaces_the_batch_and_its_counts(spark, settings_in, declared):
    name = declared("people")
    deliver(settings_in, name, gbk(f"sfzh,xm,zz\n{ID},张三,北京\n{ID2},李四,上海\n"))
    land(spark, settings_in, name)
    deliver(settings_in, name, gbk(f"sfzh,xm,zz\n{ID},王五,广州\n"))
    land(spark, settings_in, name)
    assert raw(spark, settings_in, name) == {2: {"sfzh": ID, "xm": "王五", "zz": "广州"}}
    entry = ledger(spark, settings_in, name)
    assert counts(entry) == ("landed", 1, 1, 0) and entry.reason is None
