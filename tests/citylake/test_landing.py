"""citylake/landing.py: every reader on small literal extracts, and every way a batch goes wrong."""

import datetime as dt

import pytest
from pyspark.sql import functions as F

from citylake import storage
from citylake.contracts import Contract
from citylake.landing import (
    MAX_FIELD_CHARS,
    Landed,
    LandingRejected,
    cell_text,
    json_columns,
    read_extract,
)
from tests.conftest import NIGHT, workbook

pytestmark = pytest.mark.spark

HR = ["公民身份号码", "姓名", "性别"]
HEADER = ",".join(HR) + "\n"


def contract(format="csv", encoding="gbk", columns=HR, required=("公民身份号码",), jdbc=None,
             file=None) -> Contract:
    document = {
        "name": "extract", "department": "test", "dataset": "test", "library": "population",
        "format": format, "schedule": "0 1 * * *", "keys": ["c0"],
        "columns": [{"source": name, "standard": f"c{position}", "type": "string",
                     "required": name in required, "personal_data": "none"}
                    for position, name in enumerate(columns)],
    }
    if format == "jdbc":
        document["jdbc"] = jdbc
    else:
        document |= {"encoding": encoding, "location": "{incoming}/{run_date}/" + (file or f"extract.{format}")}
    return Contract.model_validate(document)


def deliver(settings, data: bytes, format="csv", file=None) -> None:
    path = settings.incoming_dir / NIGHT / (file or f"extract.{format}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def land(spark, settings, data: bytes | None, format="csv", file=None, **declared) -> Landed:
    if data is not None:
        deliver(settings, data, format, file)
    return read_extract(spark, settings, contract(format, file=file, **declared), NIGHT)


def rows(landed: Landed) -> dict[int, list]:
    """Landed rows by line number, values in the batch's column order."""
    return {row._line_number: [row[name] for name in landed.columns] for row in landed.rows.collect()}


def reasons(landed: Landed) -> dict[int, tuple[str, str]]:
    return {row._line_number: (row.rule_id, row.reason) for row in landed.quarantined.collect()}


def accounted(landed: Landed) -> bool:
    return (landed.rows_read == landed.rows_landed + landed.rows_quarantined
            == landed.rows.count() + landed.quarantined.count())


# --- csv ---------------------------------------------------------------------------------------


def test_every_line_lands_or_is_quarantined_with_its_reason(spark, settings_in):
    data = (HEADER + "11010519491231002X,张三,1\n440524188001010014,李四\n\n34052419800101001X,王五,1,多余\n").encode("gbk")
    data = data.replace(b"\n440524", b"\n420302197407059784,\xff\xfe,2\n440524")  # not GBK
    with land(spark, settings_in, data) as landed:
        assert landed.file.endswith(f"{NIGHT}/extract.csv")
        assert landed.columns == HR
        assert rows(landed) == {2: ["11010519491231002X", "张三", "1"]}
        assert reasons(landed) == {
            3: ("LAND-ENCODING", "undecodable bytes for gbk at byte 19"),
            4: ("LAND-COLUMNS", "wrong column count: expected 3, found 2"),
            6: ("LAND-COLUMNS", "wrong column count: expected 3, found 4"),  # line 5 is blank
        }
        raw = {row._line_number: row.raw for row in landed.quarantined.collect()}
        assert raw[3] == "420302197407059784,\ufffd\ufffd,2" and raw[6] == "34052419800101001X,王五,1,多余"
        assert (landed.rows_read, landed.rows_landed, landed.rows_quarantined) == (4, 1, 3)
        assert landed.quarantined_by_rule == {"LAND-ENCODING": 1, "LAND-COLUMNS": 2}
        assert accounted(landed)


def test_quoting_empty_fields_and_crlf_as_delivered(spark, settings_in):
    data = (HEADER + '1,"张,三",1\r\n2,"say ""hi""",\r\n3,,""\r\n4," 空格 ",1\r\n').encode("gbk")
    with land(spark, settings_in, data) as landed:
        assert rows(landed) == {2: ["1", "张,三", "1"], 3: ["2", 'say "hi"', ""], 4: ["3", "", ""],
                                5: ["4", " 空格 ", "1"]}
        assert landed.rows_quarantined == 0


def test_line_numbers_are_the_files_own_when_read_in_many_splits(spark, settings_in):
    """Tiny splits (about 60 of them): every landed row carries the number Python gives its line."""
    body = []
    for number in range(2, 3002):
        body.append("" if number % 97 == 0 else f"{number},姓名{number},1" + (",多余" if number % 89 == 0 else ""))
    text = HEADER + "\r\n".join(body[:1500]) + "\r\n" + "\n".join(body[1500:]) + "\n"
    data = text.encode("gbk")
    expected = {}
    for number, line in enumerate(data.splitlines(), start=1):
        fields = line.decode("gbk").split(",")
        if number > 1 and line and len(fields) == 3:
            expected[number] = fields
    spark.conf.set("spark.sql.files.maxPartitionBytes", "1024")
    try:
        deliver(settings_in, data)
        assert spark.read.text(str(settings_in.incoming_dir / NIGHT / "extract.csv")).select(F.spark_partition_id()).distinct().count() > 20
        with read_extract(spark, settings_in, contract(), NIGHT) as landed:
            assert rows(landed) == expected
            assert all(int(fields[0]) == number for number, fields in rows(landed).items())
            assert sorted(reasons(landed)) == [n for n in range(2, 3002) if n % 89 == 0 and n % 97]
            assert accounted(landed)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")


def test_truncated_last_line_is_named(spark, settings_in):
    with land(spark, settings_in, (HEADER + "11010519491231002X,张三,1\n4405241880").encode("gbk")) as landed:
        assert reasons(landed) == {3: ("LAND-COLUMNS", "wrong column count: expected 3, found 1 "
                                                       "(truncated last line)")}


def test_last_line_without_newline_lands_when_whole(spark, settings_in):
    with land(spark, settings_in, (HEADER + "1,张三,1\n2,李四,2").encode("gbk")) as landed:
        assert rows(landed) == {2: ["1", "张三", "1"], 3: ["2", "李四", "2"]}


def test_a_quoted_line_too_wide_for_the_csv_parser_is_quarantined(spark, settings_in):
    data = (HEADER + '"1",' + ",".join(["x"] * 30000) + "\n2,李四,2\n").encode("gbk")
    with land(spark, settings_in, data) as landed:
        assert reasons(landed) == {2: ("LAND-COLUMNS", "wrong column count: expected 3, found 30001")}
        assert rows(landed) == {3: ["2", "李四", "2"]}


def test_a_compressed_extract_reads_like_the_plain_one(spark, settings_in):
    import gzip

    data = gzip.compress((HEADER + "1,张三,1\n2,李四\n").encode("gbk"))
    with land(spark, settings_in, data, file="extract.csv.gz") as landed:
        assert rows(landed) == {2: ["1", "张三", "1"]} and sorted(reasons(landed)) == [3]

def test_utf8_with_bom_reads_the_header_cleanly(spark, settings_in):
    data = "\ufeff统一社会信用代码,企业名称\n91320621MA1MRHG205,某某有限公司\n".encode("utf-8")
    with land(spark, settings_in, data, encoding="utf-8", columns=["统一社会信用代码", "企业名称"],
              required=["统一社会信用代码"]) as landed:
        assert landed.columns == ["统一社会信用代码", "企业名称"]
        assert rows(landed) == {2: ["91320621MA1MRHG205", "某某有限公司"]}


def test_gb18030_four_byte_characters_land(spark, settings_in):
    with land(spark, settings_in, (HEADER + "1,𠀀㐀,1\n").encode("gb18030"), encoding="gb18030") as landed:
        assert rows(landed) == {2: ["1", "𠀀㐀", "1"]}


def test_oversized_field_is_quarantined_cut_to_the_limit(spark, settings_in):
    with land(spark, settings_in, (HEADER + "1," + "长" * 5000 + ",1\n").encode("gbk")) as landed:
        assert reasons(landed) == {2: ("LAND-OVERSIZED", f"oversized field(s) 姓名 over {MAX_FIELD_CHARS} characters")}
        assert len(landed.quarantined.first().raw) == MAX_FIELD_CHARS


def test_new_columns_are_kept(spark, settings_in):
    with land(spark, settings_in, "公民身份号码,姓名,性别,手机号\n1,张三,1,13800000000\n".encode("gbk")) as landed:
        assert landed.columns[-1] == "手机号" and rows(landed)[2][-1] == "13800000000"


def test_a_file_with_only_a_header_lands_no_rows(spark, settings_in):
    with land(spark, settings_in, HEADER.encode("gbk")) as landed:
        assert landed.columns == HR
        assert (landed.rows_read, landed.rows_landed, landed.rows_quarantined) == (0, 0, 0)
        assert landed.rows.count() == 0 and landed.quarantined.count() == 0


def test_reasons_never_hold_the_values(spark, settings_in):
    data = (HEADER + "11010519491231002X,张三\n11010519491231002X,张三,1,多余\n"
            "11010519491231002X," + "长" * 4001 + ",1\n").encode("gbk")
    with land(spark, settings_in, data) as landed:
        assert len(reasons(landed)) == 3
        assert all("110105" not in reason and "张" not in reason for _, reason in reasons(landed).values())


def test_an_encoding_that_is_not_read_line_by_line_is_rejected(spark, settings_in):
    with pytest.raises(LandingRejected, match="extract.csv: encoding utf-16 cannot be read line by line"):
        land(spark, settings_in, HEADER.encode("utf-16"), encoding="utf-16")


@pytest.mark.parametrize("data, message", [
    (b"", "extract.csv: empty file, no header line"),
    (b"\n \n", "extract.csv: empty file, no header line"),
    ("公民身份号码,姓名\n1,张三\n".encode("gbk"), "extract.csv: missing required column\\(s\\) 性别"),
    ("公民身份号码,姓名,姓名\n1,张三,张三\n".encode("gbk"), "extract.csv: duplicated column\\(s\\) 姓名"),
    ("公民身份号码,,性别\n1,张三,1\n".encode("gbk"), "extract.csv: column\\(s\\) 2 have no name"),
])
def test_unreadable_batches_are_rejected(spark, settings_in, data, message):
    with pytest.raises(LandingRejected, match=message):
        land(spark, settings_in, data, required=HR)


def test_missing_extract(spark, settings_in):
    with pytest.raises(storage.MissingExtract, match=f"{NIGHT}/extract.csv: extract not delivered"):
        land(spark, settings_in, None)


def _household(encoding: str, header: str = HEADER) -> bytes:
    return (header + "".join(f"4201021990010{i:05d},张{i}三,男\n" for i in range(60))).encode(encoding)


def test_gbk_declared_as_utf8_is_rejected_at_the_header(spark, settings_in):
    with pytest.raises(LandingRejected, match="extract.csv: declared utf-8 but the bytes look like "
                                              "gb18030 \\(charset-normalizer\\); fix the contract's encoding"):
        land(spark, settings_in, _household("gbk"), encoding="utf-8")


def test_utf8_declared_as_gbk_is_rejected(spark, settings_in):
    # UTF-8 Chinese is mostly valid GBK: the header decodes, as nonsense without the columns
    with pytest.raises(LandingRejected, match="declared gbk but the bytes look like utf_8"):
        land(spark, settings_in, _household("utf-8"))


def test_mostly_undecodable_lines_reject_the_batch(spark, settings_in):
    with pytest.raises(LandingRejected, match="extract.csv: declared utf-8 but the bytes look like gb18030"):
        land(spark, settings_in, _household("gbk", "id,name,sex\n"), encoding="utf-8",
             columns=["id", "name", "sex"], required=["id"])


def test_a_sample_reads_the_first_lines_only(spark, settings_in):
    data = (HEADER + "".join(f"{i},张三,1\n" for i in range(2, 50)) + "49,李四\n").encode("gbk")
    deliver(settings_in, data)
    with read_extract(spark, settings_in, contract(), NIGHT, limit=5) as sample:
        assert sorted(rows(sample)) == [2, 3, 4, 5, 6] and sample.rows_read == 5


# --- jsonl -------------------------------------------------------------------------------------

JSON_LINES = (
    '{"公民身份号码": "1", "姓名": "张三", "extra": 1}\n'
    "\n"
    "[1, 2]\n"
    '{"公民身份号码": "2", "姓名": "李\n'  # cut short
    '{"性别": "2", "公民身份号码": "3", "b": {"x": [1]}, "c": true, "d": null}\n'
    '{"a": "x"} trailing\n'
)


def test_json_lines_columns_are_the_keys_seen(spark, settings_in):
    data = JSON_LINES.encode("utf-8") + b'{"\xff\xfe": "1"}\n'
    with land(spark, settings_in, data, "jsonl", encoding="utf-8") as landed:
        assert landed.columns == ["公民身份号码", "姓名", "性别", "b", "c", "d", "extra"]
        assert rows(landed) == {
            1: ["1", "张三", None, None, None, None, "1"],
            5: ["3", None, "2", '{"x":[1]}', "true", None, None],
        }
        assert reasons(landed) == {
            3: ("LAND-PARSE", "not a JSON object"),
            4: ("LAND-PARSE", "not a JSON object"),
            6: ("LAND-PARSE", "not a JSON object"),
            7: ("LAND-ENCODING", "undecodable bytes for utf-8 at byte 2"),
        }
        assert accounted(landed)


def test_json_lines_without_a_required_key_are_rejected(spark, settings_in):
    with pytest.raises(LandingRejected, match="extract.jsonl: missing required column\\(s\\) 户籍地址"):
        land(spark, settings_in, JSON_LINES.encode("utf-8"), "jsonl", encoding="utf-8",
             columns=[*HR, "户籍地址"], required=["姓名", "户籍地址"])


def test_an_empty_json_lines_file_is_a_night_without_records(spark, settings_in):
    """No keys seen: the batch has the contract's columns, as a CSV with its header alone, so the
    standardising of the night finds every column it maps."""
    with land(spark, settings_in, b"", "jsonl", encoding="utf-8") as landed:
        assert landed.columns == HR and (landed.rows_read, landed.rows_landed) == (0, 0)
        assert landed.rows.columns == [*HR, "_line_number"] and landed.rows.count() == 0


def test_json_columns_contract_order_then_drift_sorted():
    spelled = {f"{key.lower()}\0{key}" for key in ("z", "性别", "a", "公民身份号码")}
    assert list(json_columns(contract("jsonl"), spelled)) == ["公民身份号码", "性别", "a", "z"]


def test_json_keys_match_ignoring_case_a_contract_column_keeps_its_spelling():
    spelled = {"公民身份号码\0公民身份号码", "zz\0ZZ", "zz\0zz"}
    assert json_columns(contract("jsonl"), spelled) == {"公民身份号码": "公民身份号码", "ZZ": "zz"}


# --- xlsx --------------------------------------------------------------------------------------


XLSX_COLUMNS = ["公民身份号码", "姓名", "出生日期", "人数"]


def test_workbook_sheets_with_the_same_header_are_one_batch(spark, settings_in):
    data = workbook({
        "户籍1": [XLSX_COLUMNS,
                  ["11010519491231002X", "张三", dt.datetime(1990, 1, 2), 3],
                  [None, None, None, None],
                  ["2", "李四", dt.date(1980, 5, 6), 2.0, "多余"],
                  ["3", "王五", "1970-01-01", 1.5]],
        "户籍2": [XLSX_COLUMNS, ["4", "赵六", None, 7]],
        "说明": [["备注"], ["不是数据"]],
    })
    with land(spark, settings_in, data, "xlsx", columns=XLSX_COLUMNS) as landed:
        assert landed.columns == XLSX_COLUMNS
        assert rows(landed) == {
            2: ["11010519491231002X", "张三", "1990-01-02", "3"],
            5: ["3", "王五", "1970-01-01", "1.5"],
            6: ["4", "赵六", "", "7"],  # the second sheet continues the count
        }
        assert reasons(landed) == {
            4: ("LAND-COLUMNS", "sheet 户籍1 row 4: 1 cell(s) beyond the header's 4 columns"),
            # a sheet with another header is not dropped: its rows are quarantined
            7: ("LAND-SHEET", "sheet 说明 row 2: the sheet's header is not the first sheet's; missing "
                              "公民身份号码, 姓名, 出生日期, 人数; other 备注"),
        }
        assert accounted(landed)


def test_a_workbook_without_a_required_column_is_rejected(spark, settings_in):
    with pytest.raises(LandingRejected, match="extract.xlsx: missing required column\\(s\\) 姓名"):
        land(spark, settings_in, workbook({"Sheet1": [["公民身份号码"], ["1"]]}), "xlsx",
             columns=XLSX_COLUMNS, required=["姓名"])


def test_a_file_that_is_not_a_workbook_is_rejected(spark, settings_in):
    with pytest.raises(LandingRejected, match="extract.xlsx: not an Excel workbook"):
        land(spark, settings_in, b"PK\x03\x04 not really", "xlsx")


@pytest.mark.parametrize("value, text", [
    (None, ""), (3, "3"), (3.0, "3"), (1.25, "1.25"), (True, "TRUE"),
    (dt.datetime(2026, 11, 23), "2026-11-23"), (dt.datetime(2026, 11, 23, 8, 30), "2026-11-23 08:30:00"),
    (dt.date(2026, 1, 2), "2026-01-02"), ("  as typed ", "  as typed "),
])
def test_cells_read_as_a_clerk_reads_them(value, text):
    assert cell_text(value) == text


# --- every format --------------------------------------------------------------------------------


@pytest.mark.parametrize("format, data, encoding", [
    ("csv", (HEADER + "1,张三,1\n2,李四\n").encode("gb18030"), "gb18030"),
    ("jsonl", '{"公民身份号码": "1"}\n{"公民身份号码": \n'.encode("utf-8"), "utf-8"),
    ("xlsx", workbook({"S": [HR, ["1", "张三", "1"], ["2", "李四", "2", "x"]]}), "utf-8"),
])
def test_rows_read_are_landed_plus_quarantined_for_every_format(spark, settings_in, format, data, encoding):
    with land(spark, settings_in, data, format, encoding=encoding) as landed:
        assert (landed.rows_read, landed.rows_landed, landed.rows_quarantined) == (2, 1, 1)
        assert accounted(landed)


# --- jdbc: a department's exchange table ---------------------------------------------------------

EXCHANGE = {"table": "public_security.户籍交换", "batch_column": "交换日期", "order_column": "记录编号"}


def _exchange(departments_db, rows, columns=HR, night=NIGHT) -> None:
    from citylake import departments_db as exchange

    exchange.deliver(departments_db, EXCHANGE["table"], [*columns, "记录编号"], rows, "交换日期", night, "记录编号")


@pytest.mark.slow
@pytest.mark.parametrize("rows_per_partition", [1_000_000, 2])
def test_exchange_table_rows_are_numbered_by_their_order_column(spark, departments_db, monkeypatch,
                                                                 rows_per_partition):
    from citylake import landing

    monkeypatch.setattr(landing, "JDBC_ROWS_PER_PARTITION", rows_per_partition)  # 2: read in ranges
    _exchange(departments_db, [["3", "王五", "1", 30], ["1", "张三", None, 10], ["2", "李" * 4001, "2", 20],
                               ["4", "赵六", "2", 45], ["5", "钱七", "1", 50]])
    _exchange(departments_db, [["9", "别的夜晚", "1", 5]], night="2026-11-22")
    declared = contract("jdbc", jdbc=EXCHANGE)
    with read_extract(spark, departments_db, declared, NIGHT) as landed:
        assert landed.columns == [*HR, "交换日期", "记录编号"]  # as the table holds them
        assert rows(landed) == {1: ["1", "张三", None, NIGHT, "10"], 3: ["3", "王五", "1", NIGHT, "30"],
                                4: ["4", "赵六", "2", NIGHT, "45"], 5: ["5", "钱七", "1", NIGHT, "50"]}
        assert reasons(landed) == {2: ("LAND-OVERSIZED", f"oversized field(s) 姓名 over {MAX_FIELD_CHARS} characters")}
        assert accounted(landed)


@pytest.mark.slow
def test_a_night_without_rows_in_the_exchange_table_was_not_delivered(spark, departments_db):
    _exchange(departments_db, [["1", "张三", "1", 1]])
    with pytest.raises(storage.MissingExtract, match="户籍交换.*extract not delivered"):
        read_extract(spark, departments_db, contract("jdbc", jdbc=EXCHANGE), "2026-11-01")


@pytest.mark.slow
def test_an_exchange_table_without_a_required_column_is_rejected(spark, departments_db):
    _exchange(departments_db, [["1", "张三", "1", 1]])
    with pytest.raises(LandingRejected, match="missing required column\\(s\\) 户籍地址"):
        read_extract(spark, departments_db, contract("jdbc", columns=[*HR, "户籍地址"], required=["户籍地址"],
                                                     jdbc=EXCHANGE), NIGHT)

