"""Fingerprints of a cutoff's tables (hmspark.provenance): what changes them and what does not,
and the reuse decision read from table ``cutoffs``."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from hmspark.config import apply_override
from hmspark.provenance import (CANDIDATE_TABLES, CUTOFFS_TABLE, FEATURE_TABLES, SCOPE_ALL,
                                SCOPE_BUYERS, Fingerprints, frame_digest, record_tables,
                                recorded, reusable)
from hmspark.tables import read_table, write_table

CUTOFF = dt.date(2020, 9, 8)
D = dt.timedelta


def _tables(spark, wh, price_change_on: dt.date | None = None):
    """A tiny warehouse: 3 customers, 2 articles, one transaction per day from CUTOFF-10 to
    CUTOFF+10; ``price_change_on``: that day's transaction costs more."""
    tx = [(CUTOFF + D(days=i), f"c{i % 3}", i % 3, 100 + i % 2, 0.01 + (0.5 if CUTOFF + D(days=i)
                                                                        == price_change_on else 0),
           1 + i % 2) for i in range(-10, 11)]
    write_table(spark.createDataFrame(tx, "t_dat date, customer_id string, customer_key int, "
                                          "article_id int, price double, sales_channel_id int"),
                wh, "transactions")
    write_table(spark.createDataFrame([(f"c{k}", k, 20 + k) for k in range(3)],
                                      "customer_id string, customer_key int, age int"),
                wh, "customers")
    write_table(spark.createDataFrame([(100, "a"), (101, "b")], "article_id int, name string"),
                wh, "articles")


def test_frame_digest_ignores_order_and_partitioning_but_not_values(spark):
    df = spark.createDataFrame([(i, float(i) / 3) for i in range(200)], "a int, b double")
    n, s = frame_digest(df)
    assert n == 200
    assert frame_digest(df.orderBy(F.desc("a")).repartition(7)) == (n, s)
    changed = df.withColumn("b", F.when(F.col("a") == 17, F.lit(0.0)).otherwise(F.col("b")))
    assert frame_digest(changed)[1] != s
    # A duplicated row counts (a sum, not an XOR of hashes, which two equal rows would cancel).
    assert frame_digest(df.unionByName(df.filter("a = 3")))[0] == 201
    assert frame_digest(df.unionByName(df.filter("a = 3")).unionByName(df.filter("a = 3")))[1] \
        != s


@pytest.mark.parametrize("changed_day, changes_all, changes_buyers", [
    (CUTOFF - D(days=10), True, True),     # in the history: every fingerprint
    (CUTOFF, True, True),                  # the cutoff day itself is history
    (CUTOFF + D(days=3), False, True),     # in the target week: only the buyers' scope
    (CUTOFF + D(days=8), False, False),    # after the target week: none
])
def test_transactions_change_the_fingerprints_up_to_their_bound(spark, settings, tmp_path,
                                                                changed_day, changes_all,
                                                                changes_buyers):
    base, other = str(tmp_path / "base"), str(tmp_path / "other")
    _tables(spark, base)
    _tables(spark, other, price_change_on=changed_day)
    a, b = Fingerprints(spark, base, settings), Fingerprints(spark, other, settings)
    for tables in (CANDIDATE_TABLES, FEATURE_TABLES):
        assert (a.of(CUTOFF, SCOPE_ALL, tables) != b.of(CUTOFF, SCOPE_ALL, tables)) == changes_all
        assert (a.of(CUTOFF, SCOPE_BUYERS, tables) != b.of(CUTOFF, SCOPE_BUYERS, tables)) \
            == changes_buyers
    # The transactions up to a bound: counted like pandas would.
    assert a.transactions_up_to(CUTOFF)[0] == 11 and a.transactions_up_to(CUTOFF + D(days=7))[0] == 18


def test_settings_customers_and_cutoff_change_the_fingerprints(spark, settings, tmp_path):
    wh = str(tmp_path / "wh")
    _tables(spark, wh)
    base = Fingerprints(spark, wh, settings)
    recall = Fingerprints(spark, wh, apply_override(settings, "recall.pair_top_k=9"))
    assert recall.of(CUTOFF, SCOPE_ALL, CANDIDATE_TABLES) != base.of(CUTOFF, SCOPE_ALL,
                                                                     CANDIDATE_TABLES)
    # A recall setting does not touch the feature tables, and the other way round.
    assert recall.of(CUTOFF, SCOPE_ALL, FEATURE_TABLES) == base.of(CUTOFF, SCOPE_ALL,
                                                                   FEATURE_TABLES)
    features = Fingerprints(spark, wh, apply_override(settings,
                                                      "features.decay_half_life_days=3.0"))
    assert features.of(CUTOFF, SCOPE_ALL, FEATURE_TABLES) != base.of(CUTOFF, SCOPE_ALL,
                                                                     FEATURE_TABLES)
    assert features.of(CUTOFF, SCOPE_ALL, CANDIDATE_TABLES) == base.of(CUTOFF, SCOPE_ALL,
                                                                       CANDIDATE_TABLES)
    assert base.of(CUTOFF, SCOPE_ALL, CANDIDATE_TABLES) != base.of(CUTOFF - D(days=1), SCOPE_ALL,
                                                                   CANDIDATE_TABLES)
    before = base.of(CUTOFF, SCOPE_ALL, CANDIDATE_TABLES)
    # A customer more (dense keys: everyone's key may move) changes every fingerprint.
    write_table(spark.createDataFrame([(f"c{k}", k, 20 + k) for k in range(4)],
                                      "customer_id string, customer_key int, age int"),
                wh, "customers")
    assert Fingerprints(spark, wh, settings).of(CUTOFF, SCOPE_ALL, CANDIDATE_TABLES) != before


def test_reuse_needs_both_records_with_the_current_fingerprint_and_a_covering_scope(
        spark, settings, tmp_path):
    wh = str(tmp_path / "wh")
    _tables(spark, wh)
    prints = Fingerprints(spark, wh, settings)
    assert not reusable(spark, wh, CUTOFF, SCOPE_BUYERS, prints)          # no table cutoffs yet

    def record(tables, scope, built_from="current"):
        value = prints.of(CUTOFF, scope, tables) if built_from == "current" else built_from
        record_tables(spark, wh, CUTOFF, tables, scope, 3, value)

    record(CANDIDATE_TABLES, SCOPE_BUYERS)
    assert not reusable(spark, wh, CUTOFF, SCOPE_BUYERS, prints)          # features missing
    record(FEATURE_TABLES, SCOPE_BUYERS)
    assert reusable(spark, wh, CUTOFF, SCOPE_BUYERS, prints)
    assert not reusable(spark, wh, CUTOFF, SCOPE_ALL, prints)             # built for buyers only
    for tables in (CANDIDATE_TABLES, FEATURE_TABLES):
        record(tables, SCOPE_ALL)
    assert reusable(spark, wh, CUTOFF, SCOPE_ALL, prints)
    assert reusable(spark, wh, CUTOFF, SCOPE_BUYERS, prints)              # everyone covers buyers
    # A record replaces the previous one of the same (cutoff, tables); other cutoffs untouched.
    record_tables(spark, wh, CUTOFF - D(days=7), CANDIDATE_TABLES, SCOPE_ALL, 1, "x")
    record(FEATURE_TABLES, SCOPE_ALL, built_from=None)                    # a build under way
    assert not reusable(spark, wh, CUTOFF, SCOPE_ALL, prints)
    assert read_table(spark, wh, CUTOFFS_TABLE).count() == 3
    assert recorded(spark, wh, CUTOFF)[CANDIDATE_TABLES]["customers"] == 3
    # Other data, same records: not reusable.
    _tables(spark, wh, price_change_on=CUTOFF - D(days=1))
    record(FEATURE_TABLES, SCOPE_ALL)
    assert not reusable(spark, wh, CUTOFF, SCOPE_ALL, Fingerprints(spark, wh, settings))


def test_a_cutoffs_table_of_the_older_layout_is_replaced(spark, settings, tmp_path):
    wh = str(tmp_path / "wh")
    _tables(spark, wh)
    old = spark.createDataFrame([(CUTOFF, "all", 3)], "cutoff date, scope string, customers long")
    write_table(old, wh, CUTOFFS_TABLE, partition_by=["cutoff"])
    prints = Fingerprints(spark, wh, settings)
    assert recorded(spark, wh, CUTOFF) == {}
    assert not reusable(spark, wh, CUTOFF, SCOPE_ALL, prints)
    record_tables(spark, wh, CUTOFF, CANDIDATE_TABLES, SCOPE_ALL, 3,
                  prints.of(CUTOFF, SCOPE_ALL, CANDIDATE_TABLES))
    assert set(read_table(spark, wh, CUTOFFS_TABLE).columns) >= {"tables", "built_from"}
    assert list(recorded(spark, wh, CUTOFF)) == [CANDIDATE_TABLES]
