import pytest

from citylake.landing import LandingRejected, read_delimited

HEADER = "公民身份号码,姓名,性别\n"


def lines(text: str, encoding="gbk") -> list[bytes]:
    return text.encode(encoding).splitlines(keepends=True)


def test_every_line_lands_or_is_quarantined_with_its_reason():
    data = lines(HEADER + "11010519491231002X,张三,1\n440524188001010014,李四\n34052419800101001X,王五,1,多余\n")
    data.insert(2, b"420302197407059784,\xff\xfe,2\n")  # not GBK
    result = read_delimited(data, file="hr.csv", encoding="gbk", required=["公民身份号码"])
    assert result.columns == ["公民身份号码", "姓名", "性别"]
    assert result.rows == [(2, ["11010519491231002X", "张三", "1"])]
    reasons = {q.line_number: q.reason for q in result.quarantined}
    assert reasons == {
        3: "undecodable bytes for gbk at byte 19",
        4: "wrong column count: expected 3, found 2",
        5: "wrong column count: expected 3, found 4",
    }
    assert result.rows_read == 4 == len(result.rows) + len(result.quarantined)


def test_truncated_last_line_is_named():
    result = read_delimited(lines(HEADER + "11010519491231002X,张三,1\n4405241880"), file="f.csv",
                            encoding="gbk")
    assert result.quarantined[0].reason == "wrong column count: expected 3, found 1 (truncated last line)"


def test_utf8_with_bom_reads_the_header_cleanly():
    data = lines("\ufeff统一社会信用代码,企业名称\n91320621MA1MRHG205,某某有限公司\n", "utf-8")
    result = read_delimited(data, file="er.csv", encoding="utf-8", required=["统一社会信用代码"])
    assert result.columns == ["统一社会信用代码", "企业名称"]
    assert len(result.rows) == 1


def test_oversized_field_is_quarantined():
    result = read_delimited(lines(HEADER + "1," + "长" * 5000 + ",1\n"), file="f.csv", encoding="gbk")
    assert result.quarantined[0].reason.startswith("oversized field(s) 姓名")


def test_new_columns_are_kept():
    result = read_delimited(lines("公民身份号码,姓名,性别,手机号\n1,张三,1,13800000000\n"), file="f.csv",
                            encoding="gbk", required=["公民身份号码"])
    assert result.columns[-1] == "手机号" and result.rows[0][1][-1] == "13800000000"


def test_empty_file_is_rejected():
    with pytest.raises(LandingRejected, match="f.csv: empty file, no header line"):
        read_delimited([], file="f.csv", encoding="gbk")


def test_missing_required_column_is_rejected():
    with pytest.raises(LandingRejected, match="f.csv: missing required column\\(s\\) 性别"):
        read_delimited(lines("公民身份号码,姓名\n1,张三\n"), file="f.csv", encoding="gbk",
                       required=["公民身份号码", "性别"])


def test_wrong_declared_encoding_is_rejected_at_the_header():
    with pytest.raises(LandingRejected, match="header line is not utf-8"):
        read_delimited(lines(HEADER, "gbk"), file="f.csv", encoding="utf-8")
