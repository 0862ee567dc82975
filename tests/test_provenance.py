"""Fingerprints of a cutoff's tables (hmspark.provenance): what changes them and what does not,
and the reuse decision read from table ``cutoffs``."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from hmspark.config import apply_override, with_overrides
from hmspark.provenance import (CANDIDATE_TABLES, CUTOFFS_TABLE, FEATURE_TABLES, SCOPE_ALL,
                                SCOPE_BUYERS, Fingerprints, frame_digest, new_buyers_covered,
                                record_tables, recorded, reusable)
from hmspark.tables import read_table, write_table

CUTOFF = dt.date(2020, 9, 8)
D = dt.timedelta


def _tables(spark, wh, price_change_on: dt.date | None = None, week_shift: int = 0,
            new_customer_on: dt.date | None = None, new_article_on: dt.date | None = None,
            never_buyer: bool = False, older_age: int | None = None):
    """A tiny warehouse: 3 customers, 2 articles, one transaction per day from CUTOFF-10 to
    CUTOFF+10.  Variants: that day's price higher; ingest's ``week`` column shifted (as by an
    export with one more week); a new customer (key 9) or article (102) first bought that day; a
    customer without purchases (key 5); one customer's age changed."""
    tx = [(CUTOFF + D(days=i), f"c{i % 3}", i % 3, 100 + i % 2,
           0.01 + (0.5 if CUTOFF + D(days=i) == price_change_on else 0), 1 + i % 2,
           week_shift + (10 - i) // 7) for i in range(-10, 11)]
    if new_customer_on:
        tx.append((new_customer_on, "c9", 9, 100, 0.02, 1, 0))
    if new_article_on:
        tx.append((new_article_on, "c0", 0, 102, 0.03, 2, 0))
    write_table(spark.createDataFrame(tx, "t_dat date, customer_id string, customer_key int, "
                                          "article_id int, price double, sales_channel_id int, "
                                          "week int"),
                wh, "transactions")
    people = [(f"c{k}", k, 20 + k + (1 if k == older_age else 0)) for k in range(3)]
    people += [("c9", 9, 30)] if new_customer_on else []
    people += [("c5", 5, 40)] if never_buyer else []
    write_table(spark.createDataFrame(people, "customer_id string, customer_key int, age int"),
                wh, "customers")
    items = [(100, 1, 10, 1, "a"), (101, 2, 20, 1, "b")]
    items += [(102, 3, 30, 2, "c")] if new_article_on else []
    write_table(spark.createDataFrame(items, "article_id int, product_type_no int, "
                                             "department_no int, index_group_no int, name string"),
                wh, "articles")


def _all_prints(spark, wh, settings):
    f = Fingerprints(spark, wh, settings)
    return {(scope, tables): f.of(CUTOFF, scope, tables)
            for scope in (SCOPE_ALL, SCOPE_BUYERS) for tables in (CANDIDATE_TABLES, FEATURE_TABLES)}


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


def test_settings_and_cutoff_change_the_fingerprints(spark, settings, tmp_path):
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
    # The recall report's cuts are not in the tables.
    cuts = Fingerprints(spark, wh, with_overrides(settings, recall={"report_cuts": [12, 40]}))
    assert cuts.of(CUTOFF, SCOPE_ALL, CANDIDATE_TABLES) == base.of(CUTOFF, SCOPE_ALL,
                                                                   CANDIDATE_TABLES)


@pytest.mark.parametrize("variant, changes_all, changes_buyers, changes_everyone", [
    ({"week_shift": 1}, False, False, False),        # ingest's week column: not read
    ({"new_customer_on": CUTOFF + D(days=3)}, False, True, True),
    ({"new_customer_on": CUTOFF + D(days=9)}, False, False, True),
    ({"new_article_on": CUTOFF + D(days=3)}, False, True, False),
    ({"new_article_on": CUTOFF + D(days=9)}, False, False, False),
    ({"never_buyer": True}, False, False, True),     # no history: only the everyone digest
    ({"older_age": 1}, True, True, True),            # a buyer's age is read by the features
])
def test_what_a_weekly_export_adds_leaves_earlier_fingerprints_alone(
        spark, settings, tmp_path, variant, changes_all, changes_buyers, changes_everyone):
    base, other = str(tmp_path / "base"), str(tmp_path / "other")
    _tables(spark, base)
    _tables(spark, other, **variant)
    a, b = _all_prints(spark, base, settings), _all_prints(spark, other, settings)
    for (scope, tables), value in a.items():
        expected = changes_all if scope == SCOPE_ALL else changes_buyers
        assert (value != b[(scope, tables)]) == expected, (scope, tables)
    assert (Fingerprints(spark, base, settings).everyone
            != Fingerprints(spark, other, settings).everyone) == changes_everyone


def test_reuse_needs_both_records_with_the_current_fingerprint_and_a_covering_scope(
        spark, settings, tmp_path):
    wh = str(tmp_path / "wh")
    _tables(spark, wh)
    prints = Fingerprints(spark, wh, settings)
    assert not reusable(spark, wh, CUTOFF, SCOPE_BUYERS, prints)          # no table cutoffs yet

    def record(tables, scope, built_from="current", everyone="current"):
        value = prints.of(CUTOFF, scope, tables) if built_from == "current" else built_from
        who = (prints.everyone if everyone == "current" else everyone) \
            if scope == SCOPE_ALL else None
        record_tables(spark, wh, CUTOFF, tables, scope, 3, value, rows={"x": 1}, everyone=who)

    record(CANDIDATE_TABLES, SCOPE_BUYERS)
    assert not reusable(spark, wh, CUTOFF, SCOPE_BUYERS, prints)          # features missing
    record(FEATURE_TABLES, SCOPE_BUYERS)
    assert reusable(spark, wh, CUTOFF, SCOPE_BUYERS, prints)
    assert not reusable(spark, wh, CUTOFF, SCOPE_ALL, prints)             # built for buyers only
    for tables in (CANDIDATE_TABLES, FEATURE_TABLES):
        record(tables, SCOPE_ALL)
    assert reusable(spark, wh, CUTOFF, SCOPE_ALL, prints)
    # To score, also the customers without a purchase must be those the tables were built for.
    record(FEATURE_TABLES, SCOPE_ALL, everyone="another customers table")
    assert not reusable(spark, wh, CUTOFF, SCOPE_ALL, prints)
    record(FEATURE_TABLES, SCOPE_ALL)
    # A record replaces the previous one of the same (cutoff, tables); other cutoffs untouched.
    record_tables(spark, wh, CUTOFF - D(days=7), CANDIDATE_TABLES, SCOPE_ALL, 1, "x")
    record(FEATURE_TABLES, SCOPE_ALL, built_from=None)                    # a build under way
    assert not reusable(spark, wh, CUTOFF, SCOPE_ALL, prints)
    assert read_table(spark, wh, CUTOFFS_TABLE).count() == 3
    assert recorded(spark, wh, CUTOFF)[CANDIDATE_TABLES]["customers"] == 3
    assert recorded(spark, wh, CUTOFF)[CANDIDATE_TABLES]["rows"] == {"x": 1}
    # Other data, same records: not reusable.
    _tables(spark, wh, price_change_on=CUTOFF - D(days=1))
    record(FEATURE_TABLES, SCOPE_ALL)
    assert not reusable(spark, wh, CUTOFF, SCOPE_ALL, Fingerprints(spark, wh, settings))


def test_an_everyone_build_trains_only_if_it_holds_the_new_buyers_of_its_week(spark, settings,
                                                                              tmp_path):
    """Last week's prediction cutoff, built before customer 9 first bought (CUTOFF+3)."""
    wh = str(tmp_path / "wh")
    _tables(spark, wh, new_customer_on=CUTOFF + D(days=3))
    prints = Fingerprints(spark, wh, settings)
    for tables in (CANDIDATE_TABLES, FEATURE_TABLES):
        record_tables(spark, wh, CUTOFF, tables, SCOPE_ALL, 4, prints.of(CUTOFF, SCOPE_ALL, tables),
                      everyone=prints.everyone)

    def build(keys, ages):
        on = [(CUTOFF, k, 100) for k in keys]
        write_table(spark.createDataFrame(on, "cutoff date, customer_key int, article_id int"),
                    wh, "candidates")
        write_table(spark.createDataFrame([(CUTOFF, k, a) for k, a in ages.items()],
                                          "cutoff date, customer_key int, age int"),
                    wh, "features_customer")

    build([0, 1, 2], {0: 20, 1: 21, 2: 22})
    assert not new_buyers_covered(spark, wh, CUTOFF)
    assert not reusable(spark, wh, CUTOFF, SCOPE_BUYERS, prints)
    assert reusable(spark, wh, CUTOFF, SCOPE_ALL, prints)                 # scoring: as built
    build([0, 1, 2, 9], {0: 20, 1: 21, 2: 22, 9: 31})                     # an older age
    assert not new_buyers_covered(spark, wh, CUTOFF)
    build([0, 1, 2, 9], {0: 20, 1: 21, 2: 22, 9: 30})
    assert new_buyers_covered(spark, wh, CUTOFF)
    assert reusable(spark, wh, CUTOFF, SCOPE_BUYERS, prints)


def test_a_replace_where_write_takes_a_new_column(spark, tmp_path):
    wh = str(tmp_path / "wh")
    write_table(spark.createDataFrame([(CUTOFF, 1)], "cutoff date, a int"), wh, "t",
                partition_by=["cutoff"], replace_where=f"cutoff = DATE'{CUTOFF}'")
    later = CUTOFF + D(days=7)
    write_table(spark.createDataFrame([(later, 2, 3.0)], "cutoff date, a int, b double"), wh, "t",
                partition_by=["cutoff"], replace_where=f"cutoff = DATE'{later}'")
    rows = sorted(tuple(r) for r in read_table(spark, wh, "t").collect())
    assert rows == [(CUTOFF, 1, None), (later, 2, 3.0)]


@pytest.mark.parametrize("old_layout", [
    ("cutoff date, scope string, customers long", ["cutoff"]),
    ("cutoff date, tables string, scope string, customers long, built_from string, "
     "written_at timestamp", ["cutoff"]),
])
def test_a_cutoffs_table_of_an_older_layout_is_replaced(spark, settings, tmp_path, old_layout):
    wh = str(tmp_path / "wh")
    _tables(spark, wh)
    schema, partitions = old_layout
    names = [f.split()[0] for f in schema.split(", ")]
    values = {"cutoff": CUTOFF, "tables": CANDIDATE_TABLES, "scope": "all", "customers": 3,
              "built_from": "x", "written_at": dt.datetime(2026, 1, 1)}
    write_table(spark.createDataFrame([tuple(values[n] for n in names)], schema), wh,
                CUTOFFS_TABLE, partition_by=partitions)
    prints = Fingerprints(spark, wh, settings)
    assert not reusable(spark, wh, CUTOFF, SCOPE_ALL, prints)
    record_tables(spark, wh, CUTOFF, CANDIDATE_TABLES, SCOPE_ALL, 3,
                  prints.of(CUTOFF, SCOPE_ALL, CANDIDATE_TABLES))
    assert set(read_table(spark, wh, CUTOFFS_TABLE).columns) >= {"tables", "built_from", "rows"}
    assert list(recorded(spark, wh, CUTOFF)) == [CANDIDATE_TABLES]
