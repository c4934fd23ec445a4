import pytest
from pyspark.sql import functions as F

from citylake.masking import mask_name, mask_name_col


@pytest.mark.parametrize("name, masked", [("张三", "张*"), ("张小明", "张**"), ("欧阳娜", "欧阳*"), ("欧阳", "欧*"), ("", ""), (None, None)])
def test_mask_name(name, masked):
    assert mask_name(name) == masked


@pytest.mark.spark
def test_spark_twin(spark):
    names = ["张三", "张小明", "欧阳娜", "司马相如", "王"]
    rows = spark.createDataFrame([(n,) for n in names], "n string").select(mask_name_col(F.col("n")).alias("m")).collect()
    assert [r.m for r in rows] == [mask_name(n) for n in names] == ["张*", "张**", "欧阳*", "司马**", "王"]
