import pytest

from citylake.curated import enterprise_legal_representative

pytestmark = pytest.mark.spark


def test_enterprises_get_district_and_masked_representative(spark):
    legal_entity = spark.createDataFrame(
        [
            ("91320621MA1MRHG205", "华泰有限公司", "存续", "420302", "欧阳娜娜", "11010519491231002X"),
            ("91350100M000100Y43", "恒通有限公司", "注销", "420821", "张三", "440524188001010014"),
        ],
        "credit_code string, entity_name string, status string, division_code string, "
        "legal_representative_name string, legal_representative_identity_number string",
    )
    population = spark.createDataFrame([("11010519491231002X", "420303")], "identity_number string, division_code string")
    rows = {r.credit_code: r for r in enterprise_legal_representative(legal_entity, population).collect()}
    first, second = rows["91320621MA1MRHG205"], rows["91350100M000100Y43"]
    assert first.district == "茅箭区" and second.district == "京山县"
    assert first.legal_representative_name == "欧阳**"
    assert first.legal_representative_identity_number == "1101**********002X"
    assert first.representative_in_population and first.representative_division_code == "420303"
    assert not second.representative_in_population and second.representative_division_code is None
