"""Ingest of the real H&M rows (shared/data/hm-real-head), checked against pandas on the same files."""

from __future__ import annotations

import pandas as pd
import pytest
from pyspark.sql import types as T

from hmspark.ingest import ingest
from hmspark.tables import read_table


@pytest.fixture(scope="module")
def ingested(spark, real_head, tmp_path_factory):
    wh = str(tmp_path_factory.mktemp("real") / "warehouse")
    report = ingest(spark, str(real_head), wh)
    return wh, report


@pytest.fixture(scope="module")
def raw(real_head):
    return {
        "articles": pd.read_csv(real_head / "articles.csv", dtype=str, keep_default_na=False),
        "customers": pd.read_csv(real_head / "customers.csv", dtype=str, keep_default_na=False),
        "transactions": pd.read_csv(real_head / "transactions_train.csv", dtype=str,
                                    keep_default_na=False),
    }


def test_counts_add_up_and_nothing_quarantined(ingested, raw):
    _, report = ingested
    for name, frame in (("articles.csv", raw["articles"]), ("customers.csv", raw["customers"]),
                        ("transactions_train.csv", raw["transactions"])):
        c = report.files[name]
        assert c.read == len(frame), name
        assert c.read == c.written + c.quarantined
        assert c.quarantined == 0, (name, report.quarantine_reasons)


def test_types(spark, ingested):
    wh, _ = ingested
    tx = read_table(spark, wh, "transactions").schema
    assert tx["t_dat"].dataType == T.DateType()
    assert tx["article_id"].dataType == T.IntegerType()
    assert tx["price"].dataType == T.DoubleType()
    assert tx["sales_channel_id"].dataType == T.ShortType()
    assert tx["customer_key"].dataType == T.IntegerType()
    assert read_table(spark, wh, "articles").schema["article_id"].dataType == T.IntegerType()


def test_article_id_leading_zero_reconciled(spark, ingested, raw):
    """articles.csv writes 0108775015, transactions write 108775015: both become 108775015."""
    wh, _ = ingested
    articles = read_table(spark, wh, "articles").toPandas()
    expected = sorted(int(x) for x in raw["articles"]["article_id"])
    assert sorted(articles["article_id"]) == expected
    assert raw["articles"]["article_id"].str.len().eq(10).all()
    tx = read_table(spark, wh, "transactions").toPandas()
    # Every transaction's article joined the catalogue, and ids compare equal as integers.
    assert set(tx["article_id"]) == {int(x) for x in raw["transactions"]["article_id"]}
    assert set(tx["article_id"]) <= set(articles["article_id"])


def test_unknown_customers_kept_and_reported(spark, ingested, raw):
    wh, report = ingested
    in_file = set(raw["customers"]["customer_id"])
    in_tx = set(raw["transactions"]["customer_id"])
    unknown = in_tx - in_file
    assert report.unknown_customers == len(unknown)
    customers = read_table(spark, wh, "customers").toPandas()
    assert len(customers) == len(in_file | in_tx)
    flagged = set(customers.loc[~customers["in_customers_file"], "customer_id"])
    assert flagged == unknown
    # The key is dense, 0..n-1, in customer_id order.
    ordered = customers.sort_values("customer_id")["customer_key"].tolist()
    assert ordered == list(range(len(customers)))


def test_transactions_match_pandas(spark, ingested, raw):
    """Units (duplicate rows), prices and the mapping back to customer_id, checked row for row."""
    wh, _ = ingested
    tx = read_table(spark, wh, "transactions")
    cust = read_table(spark, wh, "customers")
    got = (tx.join(cust.select("customer_id", "customer_key"), "customer_key")
           .select("t_dat", "customer_id", "article_id", "price", "sales_channel_id").toPandas())
    exp = raw["transactions"].assign(
        t_dat=lambda d: pd.to_datetime(d["t_dat"]).dt.date,
        article_id=lambda d: d["article_id"].astype(int),
        price=lambda d: d["price"].astype(float),
        sales_channel_id=lambda d: d["sales_channel_id"].astype(int))
    key = ["t_dat", "customer_id", "article_id", "price", "sales_channel_id"]
    got_counts = got.assign(sales_channel_id=got["sales_channel_id"].astype(int),
                            article_id=got["article_id"].astype(int)).groupby(key).size().sort_index()
    exp_counts = exp.groupby(key).size().sort_index()
    assert exp_counts.max() > 1, "the real head has duplicate rows (units)"
    pd.testing.assert_series_equal(got_counts, exp_counts, check_names=False)
    # Single day of history: everything is week 0.
    assert set(tx.select("week").distinct().toPandas()["week"]) == {0}


def test_news_frequency_normalised(spark, ingested, raw):
    wh, _ = ingested
    customers = read_table(spark, wh, "customers").toPandas()
    known = customers[customers["in_customers_file"]]
    values = set(known["fashion_news_frequency"].dropna())
    assert "None" not in values and "NONE" in values
    empty = (raw["customers"]["fashion_news_frequency"] == "").sum()
    assert known["fashion_news_frequency"].isna().sum() == empty
    assert known["age"].isna().sum() == (raw["customers"]["age"] == "").sum()
