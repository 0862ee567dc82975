"""Feature tables and their assembly, on small hand-made Delta tables.

Every table is checked against an independent computation (pandas or DuckDB) on the same rows;
the data has duplicate rows (units), ties, window boundaries on both sides, customers and articles
without history, a customer without age, and transactions after the cutoff.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import shutil

import duckdb
import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F
from pyspark.sql import types as T

from hmspark.config import FeatureSettings
from hmspark.features import FEATURE_COLUMNS, NEVER_DAYS, assemble, build_features, read_features
from hmspark.features import build as B
from hmspark.features.assemble import assemble_frames
from hmspark.tables import read_table, write_table
from factories import articles_df, customers_df, transactions_df

CUTOFF = dt.date(2020, 9, 15)
CUTOFF2 = CUTOFF - dt.timedelta(days=7)
HALF_LIFE = 10.0  # not the default, so that the setting is seen to reach the computation
CFG = FeatureSettings(decay_half_life_days=HALF_LIFE)

CATEGORY_COLUMNS = ["product_type_no", "department_no", "index_group_no", "colour_group_code"]
# The levels of the customer x category table (colour is an article column but not a level).
LEVELS = CATEGORY_COLUMNS[:3]
ARTICLES = [  # article_id, product_type_no, department_no, index_group_no, colour_group_code
    (101001, 1, 10, 100, 9),
    (101002, 1, 11, 100, 10),
    (202001, 2, 10, 100, 9),
    (303001, 3, 12, 200, 9),
    (404001, 1, 12, 200, 11),
    (505001, 3, 13, 200, 10),
    (606001, 2, 13, 100, 11),  # sold only after the cutoff
    (707001, 4, 14, 300, 12),  # never sold
]
CUSTOMERS = [(0, 25), (1, 40), (2, 33), (3, None), (4, 60), (5, 22)]
# 4: buys only after the cutoff; 5: never buys; 3: age unknown.

# Customer 0 and articles 101001 / 202001 are written by hand (the assemble test checks them with
# numbers worked out on paper); days_before of customer 0's units of 101001, with its boundaries:
C0_DAYS = [0, 0, 6, 7, 27, 28, 83, 84, 357, 363, 364, 400]


def day(days_before: int) -> str:
    return (CUTOFF - dt.timedelta(days=days_before)).isoformat()


def hand_rows() -> list[tuple]:
    rows = []
    for db in C0_DAYS:  # (t_dat, customer, article, price, channel)
        rows.append((day(db), 0, 101001, 0.02 if db == 7 else 0.03, 1 if db == 6 else 2))
    rows += [
        (day(3), 0, 202001, 0.05, 1),
        (day(-1), 0, 101001, 0.07, 2),      # after the cutoff
        (day(420), 1, 101001, 0.01, 1),     # first sale of 101001
        (day(8), 2, 101001, 0.04, 1),
        (day(50), 2, 202001, 0.05, 2),      # first sale of 202001
        (day(-3), 4, 404001, 0.02, 2),      # customer 4: after the cutoff only
        (day(-2), 1, 606001, 0.09, 2),      # article 606001: after the cutoff only
        (day(-6), 2, 606001, 0.09, 1),
    ]
    return rows


def random_rows(seed: int = 7, n: int = 70) -> list[tuple]:
    """Customers 1-3 on articles 303001, 404001, 505001 over 420 days before to 10 days after the
    cutoff, with some rows repeated (several units) and several prices on one day."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        db = rng.choice([rng.randint(-10, 420), rng.randint(-3, 30), rng.choice(
            [6, 7, 13, 14, 27, 28, 83, 84, 356, 357, 363, 364])])
        row = (day(db), rng.choice([1, 2, 3]), rng.choice([303001, 404001, 505001]),
               rng.choice([0.01, 0.015, 0.02, 0.03]), rng.choice([1, 2]))
        rows.append(row)
        if rng.random() < 0.2:
            rows.append(row)  # a duplicate row: one more unit
    return rows


TX_ROWS = hand_rows() + random_rows()


# ----------------------------------------------------------------------------------------------
# Writing the input tables

def write_inputs(spark, warehouse, tx_rows):
    arts = [dict(article_id=a, product_type_no=p, department_no=d, index_group_no=i,
                 colour_group_code=c) for a, p, d, i, c in ARTICLES]
    write_table(articles_df(spark, arts), warehouse, "articles")
    write_table(customers_df(spark, CUSTOMERS), warehouse, "customers")
    write_table(transactions_df(spark, tx_rows), warehouse, "transactions")


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    """A warehouse with the feature tables of CUTOFF2 and CUTOFF."""
    wh = str(tmp_path_factory.mktemp("features") / "warehouse")
    write_inputs(spark, wh, TX_ROWS)
    counts = {c: build_features(spark, wh, c, CFG) for c in (CUTOFF2, CUTOFF)}
    return wh, counts


# ----------------------------------------------------------------------------------------------
# Independent computations (pandas / DuckDB) from the raw rows

def tx_frame(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["t_dat", "customer_key", "article_id", "price",
                                     "sales_channel_id"])
    df["t_dat"] = pd.to_datetime(df["t_dat"])
    return df


def articles_frame() -> pd.DataFrame:
    return pd.DataFrame(ARTICLES, columns=["article_id", *CATEGORY_COLUMNS])


def customers_frame() -> pd.DataFrame:
    return pd.DataFrame(CUSTOMERS, columns=["customer_key", "age"]).astype({"age": "float"})


def window_stats(group: pd.DataFrame, cutoff: dt.date) -> pd.Series:
    """The window columns written with dates rather than days_before."""
    c = pd.Timestamp(cutoff)
    t = group["t_dat"]
    days = (c - t).dt.days
    return pd.Series({
        "units_1w": (t > c - pd.Timedelta(days=7)).sum(),
        "units_4w": (t > c - pd.Timedelta(days=28)).sum(),
        "units_12w": (t > c - pd.Timedelta(days=84)).sum(),
        "units_ly": ((t > c - pd.Timedelta(days=364)) & (t <= c - pd.Timedelta(days=357))).sum(),
        "units_all": len(group),
        "decayed": (0.5 ** (days / HALF_LIFE)).sum(),
        "days_since_last": (c - t.max()).days,
    })


def expected_customer_article(rows, cutoff) -> pd.DataFrame:
    tx = tx_frame(rows)
    hist = tx[tx["t_dat"] <= pd.Timestamp(cutoff)]
    out = (hist.groupby(["customer_key", "article_id"])[["t_dat"]]
           .apply(window_stats, cutoff=cutoff).reset_index())
    return out


def expected_customer_category(rows, cutoff) -> pd.DataFrame:
    tx = tx_frame(rows)
    hist = tx[tx["t_dat"] <= pd.Timestamp(cutoff)].merge(articles_frame(), on="article_id")
    parts = []
    for level in LEVELS:
        g = (hist.groupby(["customer_key", level])[["t_dat"]].apply(window_stats, cutoff=cutoff)
             .reset_index().rename(columns={level: "category"}))
        g.insert(1, "level", level)
        parts.append(g)
    return pd.concat(parts, ignore_index=True)


def expected_customer(rows, cutoff) -> pd.DataFrame:
    con = duckdb.connect()
    con.register("tx", tx_frame(rows))
    con.register("customers", customers_frame())
    return con.execute(f"""
        with h as (select *, cast(t_dat as date) as d from tx
                   where cast(t_dat as date) <= date '{cutoff}'),
        fs as (select article_id, min(d) as first_sale from h group by article_id),
        agg as (
            select customer_key, count(*) as units,
                   count(distinct (date '{cutoff}' - d) // 7) as active_weeks,
                   min(date '{cutoff}' - d) as days_since_last,
                   min(price) as price_min, avg(price) as price_mean, max(price) as price_max,
                   avg(case when sales_channel_id = 2 then 1.0 else 0.0 end) as online_share,
                   avg(d - first_sale) as newness_days
            from h join fs using (article_id) group by customer_key)
        select c.customer_key, coalesce(units, 0) as units,
               coalesce(active_weeks, 0) as active_weeks, days_since_last, price_min,
               price_mean, price_max, online_share, c.age, newness_days
        from customers c left join agg using (customer_key)
    """).df()


def expected_article(rows, cutoff) -> pd.DataFrame:
    con = duckdb.connect()
    con.register("tx", tx_frame(rows))
    con.register("customers", customers_frame())
    con.register("articles", articles_frame())
    return con.execute(f"""
        with h as (select *, cast(t_dat as date) as d, date '{cutoff}' - cast(t_dat as date) as db
                   from tx where cast(t_dat as date) <= date '{cutoff}'),
        s as (select article_id,
                     count(*) filter (where db < 7) as units_1w,
                     count(*) filter (where db >= 7 and db < 14) as units_prev_week,
                     count(*) filter (where db < 28) as units_4w,
                     count(*) as units_all, min(d) as first_sale, avg(price) as price_mean
              from h group by article_id),
        daily as (select article_id, d, avg(price) as p from h group by article_id, d),
        ends as (select article_id, arg_min(p, d) as price_first, arg_max(p, d) as price_last
                 from daily group by article_id),
        buyers as (select distinct customer_key, article_id from h),
        ages as (select article_id, avg(age) as buyer_age_mean, stddev_samp(age) as buyer_age_std
                 from buyers join customers using (customer_key) where age is not null
                 group by article_id)
        select a.article_id, coalesce(units_1w, 0) as units_1w,
               coalesce(units_prev_week, 0) as units_prev_week, coalesce(units_4w, 0) as units_4w,
               coalesce(units_all, 0) as units_all,
               (coalesce(units_1w, 0) + 1.0) / (coalesce(units_prev_week, 0) + 1.0) as trend,
               first_sale, date '{cutoff}' - first_sale as days_since_release,
               buyer_age_mean, buyer_age_std, price_mean, price_first, price_last,
               case when price_first > 0 then price_last / price_first end
                   as price_last_first_ratio
        from articles a left join s using (article_id) left join ages using (article_id)
             left join ends using (article_id)
    """).df()


# ----------------------------------------------------------------------------------------------
# Comparison helpers

def normalise(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Keys sorted, dates as text, every other column as float (NaN for null)."""
    out = df.copy()
    for col in out.columns:
        if col in ("first_sale", "cutoff"):
            out[col] = pd.to_datetime(out[col]).dt.strftime("%Y-%m-%d")
        elif col in ("level",):
            out[col] = out[col].astype(str)
        else:
            out[col] = pd.to_numeric(out[col]).astype(float)
    return out.sort_values(keys).reset_index(drop=True)


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str]) -> None:
    assert list(actual.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(normalise(actual, keys), normalise(expected, keys),
                                  check_exact=False, rtol=1e-9, atol=1e-12)


_READ: dict[tuple, pd.DataFrame] = {}


def spark_table(spark, wh, name, cutoff, cache: bool = False) -> pd.DataFrame:
    """One cutoff's partition of a feature table as pandas (``cache``: for the module's warehouse,
    which is written once)."""
    key = (wh, name, cutoff)
    if cache and key in _READ:
        return _READ[key].copy()
    df = read_features(spark, wh, name, cutoff).toPandas()
    assert (pd.to_datetime(df["cutoff"]) == pd.Timestamp(cutoff)).all()
    df = df.drop(columns="cutoff")
    if cache:
        _READ[key] = df.copy()
    return df


TABLE_KEYS = {
    B.CUSTOMER_ARTICLE: ["customer_key", "article_id"],
    B.CUSTOMER_CATEGORY: ["customer_key", "level", "category"],
    B.CUSTOMER: ["customer_key"],
    B.ARTICLE: ["article_id"],
}
EXPECTED = {
    B.CUSTOMER_ARTICLE: expected_customer_article,
    B.CUSTOMER_CATEGORY: expected_customer_category,
    B.CUSTOMER: expected_customer,
    B.ARTICLE: expected_article,
}


# ----------------------------------------------------------------------------------------------
# The tables against the independent computations

@pytest.mark.parametrize("cutoff", [CUTOFF, CUTOFF2], ids=["cutoff", "week-before"])
@pytest.mark.parametrize("name", list(TABLE_KEYS))
def test_table_matches_independent_computation(spark, built, name, cutoff):
    wh, counts = built
    actual = spark_table(spark, wh, name, cutoff, cache=True)
    expected = EXPECTED[name](TX_ROWS, cutoff)
    assert counts[cutoff][name] == len(expected)
    assert_same(actual, expected, TABLE_KEYS[name])


def test_article_table_from_a_later_article_history_has_no_leak(spark, built):
    """The pipeline computes the per-article daily aggregates once, up to the prediction cutoff,
    and derives every training cutoff's article table from them: CUTOFF2's table from aggregates
    up to CUTOFF (a week of later sales and first purchases in them) equals the reference of
    CUTOFF2.  Aggregates that end before the cutoff are refused."""
    from hmspark.features import compute as C

    wh, _ = built
    tx = read_table(spark, wh, "transactions")
    later = C.article_history(tx, read_table(spark, wh, "customers"), CUTOFF)
    assert later.sales.filter(F.col("t_dat") > F.lit(CUTOFF2)).count() > 0
    assert later.buyers.filter(F.col("first_dat") > F.lit(CUTOFF2)).count() > 0
    actual = (C.article_features(later, read_table(spark, wh, "articles"), None, CUTOFF2)
              .drop("cutoff").toPandas())
    assert_same(actual, expected_article(TX_ROWS, CUTOFF2), TABLE_KEYS[B.ARTICLE])
    earlier = C.article_history(tx, read_table(spark, wh, "customers"), CUTOFF2)
    with pytest.raises(ValueError, match="before the cutoff"):
        C.article_features(earlier, read_table(spark, wh, "articles"), None, CUTOFF)


def test_data_covers_the_edge_cases(built):
    """The test data has what the comparisons are meant to exercise (guards against a data
    change silently removing a case)."""
    tx = tx_frame(TX_ROWS)
    hist = tx[tx["t_dat"] <= pd.Timestamp(CUTOFF)]
    assert hist.duplicated().any()                            # several units in one row's shape
    ca = expected_customer_article(TX_ROWS, CUTOFF)
    assert (ca["units_ly"] > 0).any() and (ca["units_12w"] < ca["units_all"]).any()
    cust = expected_customer(TX_ROWS, CUTOFF)
    assert set(cust.loc[cust["units"] == 0, "customer_key"]) == {4, 5}
    art = expected_article(TX_ROWS, CUTOFF)
    assert set(art.loc[art["units_all"] == 0, "article_id"]) == {101002, 606001, 707001}
    assert art["buyer_age_std"].isna().sum() >= 2 and art["buyer_age_std"].notna().any()
    # Several prices on one article's first or last day (the day mean is used).
    daily = hist.groupby(["article_id", "t_dat"])["price"].nunique()
    assert (daily > 1).any()


def test_customer_article_has_only_bought_pairs(spark, built):
    wh, _ = built
    ca = spark_table(spark, wh, B.CUSTOMER_ARTICLE, CUTOFF, cache=True)
    assert (ca["units_all"] >= 1).all()
    assert not ((ca["customer_key"] == 0) & (ca["article_id"] == 303001)).any()
    assert not (ca["customer_key"].isin([4, 5])).any()


# ----------------------------------------------------------------------------------------------
# No leakage; a re-run replaces only its cutoff

def changed_after(rows, cutoff) -> list[tuple]:
    """``rows`` with every transaction after ``cutoff`` changed (other price and channel), and new
    ones after it for every customer and article, including those without any history."""
    out = []
    for t, c, a, p, ch in rows:
        if dt.date.fromisoformat(t) > cutoff:
            out.append((t, c, a, p * 3, 3 - ch))
        else:
            out.append((t, c, a, p, ch))
    for c, _ in CUSTOMERS:
        for a, *_ in ARTICLES:
            out.append(((cutoff + dt.timedelta(days=1)).isoformat(), c, a, 0.5, 2))
            out.append(((cutoff + dt.timedelta(days=7)).isoformat(), c, a, 0.6, 1))
    return out


def test_after_cutoff_changes_nothing_and_rerun_replaces_only_its_cutoff(spark, built, tmp_path):
    """A copy of the warehouse (both cutoffs written) gets transactions changed and added after
    CUTOFF2 (also between CUTOFF2 and CUTOFF), then CUTOFF2 is re-run:

    - leakage: every table of CUTOFF2 is the same as before, whole table;
    - re-run: CUTOFF2's partition was replaced (its files removed and rewritten, no duplicate
      rows) and CUTOFF's partition is untouched, although recomputing it would now differ.
    """
    from delta.tables import DeltaTable

    wh, counts = built
    copy = str(tmp_path / "warehouse")
    shutil.copytree(wh, copy)
    changed = changed_after(TX_ROWS, CUTOFF2)
    assert len(changed) > len(TX_ROWS)
    write_table(transactions_df(spark, changed), copy, "transactions")
    rerun = build_features(spark, copy, CUTOFF2, CFG)
    assert rerun == counts[CUTOFF2]
    for name, keys in TABLE_KEYS.items():
        whole = read_table(spark, copy, name).toPandas()   # both cutoffs, read once
        cut = pd.to_datetime(whole.pop("cutoff"))
        assert set(cut) == {pd.Timestamp(CUTOFF), pd.Timestamp(CUTOFF2)}
        rewritten = whole[cut == pd.Timestamp(CUTOFF2)]
        kept = whole[cut == pd.Timestamp(CUTOFF)]
        # No leakage: the same table as from the original rows (and no duplicate rows).
        assert_same(rewritten, spark_table(spark, wh, name, CUTOFF2, cache=True), keys)
        # Replaced, not appended: the last commit rewrote exactly CUTOFF2's partition.
        last = DeltaTable.forPath(spark, f"{copy}/{name}").history(1).collect()[0]
        assert last["operationParameters"]["predicate"].strip('[]"') == B.cutoff_predicate(CUTOFF2)
        assert int(last["operationMetrics"]["numRemovedFiles"]) >= 1
        assert int(last["operationMetrics"]["numDeletedRows"]) == counts[CUTOFF2][name]
        # CUTOFF untouched: as before, and no longer what the changed rows would give.
        assert_same(kept, spark_table(spark, wh, name, CUTOFF, cache=True), keys)
        with pytest.raises(AssertionError):
            assert_same(kept, EXPECTED[name](changed, CUTOFF), keys)


# ----------------------------------------------------------------------------------------------
# Assembly

CANDIDATE_SCHEMA = T.StructType([
    T.StructField("cutoff", T.DateType()),
    T.StructField("customer_key", T.IntegerType()),
    T.StructField("article_id", T.IntegerType()),
    T.StructField("sources", T.ArrayType(T.StringType())),
    T.StructField("pair_score_max", T.DoubleType()),
    T.StructField("pair_score_sum", T.DoubleType()),
    T.StructField("repurchase_count", T.IntegerType()),
    T.StructField("repurchase_days_since", T.IntegerType()),
    T.StructField("popular_rank", T.IntegerType()),
    T.StructField("last_year_rank", T.IntegerType()),
    T.StructField("category_rank", T.IntegerType()),
])
PAIR_SCHEMA = T.StructType([
    T.StructField("cutoff", T.DateType()),
    T.StructField("customer_key", T.IntegerType()),
    T.StructField("article_id", T.IntegerType()),
    T.StructField("pair_count_max", T.IntegerType()),
    T.StructField("pair_count_sum", T.IntegerType()),
])
CANDIDATES = [
    (CUTOFF, 0, 101001, ["repurchase", "pair"], 4.0, 6.0, 12, 0, None, None, None),
    (CUTOFF, 0, 707001, ["popular"], None, None, None, None, 3, None, None),
    (CUTOFF, 5, 202001, ["popular", "last_year"], None, None, None, None, 1, 2, None),
    (CUTOFF, 3, 101002, ["category"], None, None, None, None, None, None, 5),
    (CUTOFF, 1, 303001, ["pairs", "category"], 2.0, 2.0, None, None, None, None, 1),
    (CUTOFF, 2, 404001, ["popular"], None, None, None, None, 7, None, None),
    (CUTOFF, 2, 505001, None, None, None, None, None, None, None, None),  # no sources at all
    (CUTOFF2, 0, 101001, ["repurchase"], None, None, 10, 7, None, None, None),  # other cutoff
]
PAIRS = [(CUTOFF, 0, 101001, 3, 5), (CUTOFF, 1, 303001, 2, 2), (CUTOFF2, 0, 101001, 9, 9)]


@pytest.fixture(scope="module")
def assembled(spark, built):
    wh, _ = built
    write_table(spark.createDataFrame(CANDIDATES, CANDIDATE_SCHEMA), wh, "candidates",
                partition_by=["cutoff"])
    write_table(spark.createDataFrame(PAIRS, PAIR_SCHEMA), wh, "candidate_pair_features",
                partition_by=["cutoff"])
    df = assemble(spark, wh, CUTOFF)
    return df, df.toPandas()


def test_assemble_one_row_per_candidate_all_numeric(assembled):
    df, pdf = assembled
    assert list(df.columns) == ["cutoff", "customer_key", "article_id", "product_code",
                                *FEATURE_COLUMNS]
    assert len(FEATURE_COLUMNS) == len(set(FEATURE_COLUMNS))
    assert not {"article_id", "product_code", "customer_key", "cutoff"} & set(FEATURE_COLUMNS)
    expected_keys = sorted((c, a) for cut, c, a, *_ in CANDIDATES if cut == CUTOFF)
    assert sorted(zip(pdf["customer_key"], pdf["article_id"])) == expected_keys
    types = dict(df.dtypes)
    assert all(types[c] == "double" for c in FEATURE_COLUMNS), \
        {c: types[c] for c in FEATURE_COLUMNS if types[c] != "double"}
    assert all(pd.api.types.is_float_dtype(pdf[c]) for c in FEATURE_COLUMNS)
    # The frame goes to a float matrix as LightGBM takes it.
    matrix = pdf[FEATURE_COLUMNS].to_numpy(dtype=np.float64)
    assert matrix.shape == (len(expected_keys), len(FEATURE_COLUMNS))


def row(pdf, customer, article) -> pd.Series:
    hit = pdf[(pdf["customer_key"] == customer) & (pdf["article_id"] == article)]
    assert len(hit) == 1
    return hit.iloc[0]


def test_assemble_hand_checked_candidate(assembled):
    """Customer 0 (age 25) and article 101001, worked out from the hand-written rows."""
    _, pdf = assembled
    r = row(pdf, 0, 101001)
    decayed = sum(0.5 ** (d / HALF_LIFE) for d in C0_DAYS)
    expected = {
        "product_code": 101,
        # customer x article: days_before 0,0,6 | 7,27 | 28,83 | 84 ... 357,363 in last year's week
        "ca_units_1w": 3, "ca_units_4w": 5, "ca_units_12w": 7,
        "ca_units_all": 12, "ca_decayed": decayed, "ca_days_since_last": 0,
        # product type 1: only 101001; department 10 / index group 100: also 202001 (one unit
        # 3 days before)
        "cc_ptype_units_all": 12, "cc_ptype_units_12w": 7,
        "cc_dept_units_12w": 8, "cc_dept_units_all": 13,
        "cc_dept_decayed": decayed + 0.5 ** (3 / HALF_LIFE), "cc_dept_days_since_last": 0,
        "cc_igroup_units_all": 13, "cc_igroup_units_12w": 8,
        # customer 0: 13 units, weeks {0,1,3,4,11,12,51,52,57}, prices 0.02..0.05,
        # 11 of 13 units online; newness: 101001 first sold 420 days before, 202001 50 days before
        "c_units": 13, "c_active_weeks": 9, "c_days_since_last": 0,
        "c_price_min": 0.02, "c_price_max": 0.05, "c_price_mean": 0.40 / 13,
        "c_online_share": 11 / 13, "c_age": 25,
        "c_newness_days": (12 * 420 - sum(C0_DAYS) + (50 - 3)) / 13,
        # article 101001: 14 units (12 of customer 0, customer 1 at 420, customer 2 at 8)
        "a_units_1w": 3, "a_units_prev_week": 2, "a_units_4w": 6, "a_units_all": 14,
        "a_trend": 4 / 3, "a_days_since_release": 420,
        "a_buyer_age_mean": (25 + 40 + 33) / 3,
        "a_buyer_age_std": float(np.std([25, 40, 33], ddof=1)),
        "a_price_mean": 0.40 / 14, "a_price_first": 0.01, "a_price_last": 0.03,
        "a_price_last_first_ratio": 3.0,
        "age_gap": 25 - (25 + 40 + 33) / 3,
        "pair_count_max": 3, "pair_count_sum": 5,
        "pair_score_max": 4.0, "pair_score_sum": 6.0, "repurchase_count": 12,
        "repurchase_days_since": 0,
    }
    for name, value in expected.items():
        assert r[name] == pytest.approx(value, rel=1e-9), name
    for name in ("popular_rank", "last_year_rank", "category_rank"):
        assert math.isnan(r[name]), name


def test_assemble_missing_history(assembled):
    _, pdf = assembled
    # Customer 0 never bought 707001, which never sold: zeros, NEVER_DAYS, nulls.
    r = row(pdf, 0, 707001)
    assert r["ca_units_all"] == 0 and r["ca_decayed"] == 0
    assert r["ca_days_since_last"] == NEVER_DAYS
    assert r["cc_ptype_units_all"] == 0 and r["cc_ptype_days_since_last"] == NEVER_DAYS
    assert r["a_units_all"] == 0 and r["a_trend"] == 1.0
    assert math.isnan(r["a_days_since_release"]) and math.isnan(r["a_buyer_age_mean"])
    assert math.isnan(r["age_gap"])
    assert r["pair_count_max"] == 0 and r["pair_count_sum"] == 0
    assert math.isnan(r["pair_score_max"]) and r["popular_rank"] == 3
    # Customer 5 never bought anything.
    r = row(pdf, 5, 202001)
    assert r["c_units"] == 0 and r["c_active_weeks"] == 0
    assert r["c_days_since_last"] == NEVER_DAYS
    assert math.isnan(r["c_price_mean"]) and math.isnan(r["c_newness_days"])
    assert r["c_age"] == 22 and r["age_gap"] == pytest.approx(22 - (25 + 33) / 2)
    assert (r["popular_rank"], r["last_year_rank"]) == (1, 2)
    # Customer 3 has no age: no age gap.
    r = row(pdf, 3, 101002)
    assert math.isnan(r["c_age"]) and math.isnan(r["age_gap"])
    assert r["category_rank"] == 5
    # No source at all: every score column missing.
    scores = ["pair_score_max", "pair_score_sum", "repurchase_count", "repurchase_days_since",
              "popular_rank", "last_year_rank", "category_rank"]
    assert row(pdf, 2, 505001)[scores].isna().all()


def test_assemble_matches_independent_merge(assembled):
    """Every candidate's customer x article, customer x category (product type), customer and
    article features equal the independent tables merged in pandas."""
    _, pdf = assembled
    cand = pdf[["customer_key", "article_id"]]
    ca = expected_customer_article(TX_ROWS, CUTOFF)
    m = cand.merge(ca, on=["customer_key", "article_id"], how="left")
    for c in ["units_1w", "units_4w", "units_12w", "units_all", "decayed"]:
        np.testing.assert_allclose(pdf[f"ca_{c}"], m[c].fillna(0), rtol=1e-9, err_msg=c)
    np.testing.assert_allclose(pdf["ca_days_since_last"], m["days_since_last"].fillna(NEVER_DAYS))
    cc = expected_customer_category(TX_ROWS, CUTOFF)
    cc = cc[cc["level"] == "product_type_no"].rename(columns={"category": "product_type_no"})
    m = cand.merge(articles_frame(), on="article_id").merge(
        cc, on=["customer_key", "product_type_no"], how="left")
    np.testing.assert_allclose(pdf["cc_ptype_units_12w"], m["units_12w"].fillna(0))
    np.testing.assert_allclose(pdf["cc_ptype_decayed"], m["decayed"].fillna(0), rtol=1e-9)
    cust = cand.merge(expected_customer(TX_ROWS, CUTOFF), on="customer_key", how="left")
    np.testing.assert_allclose(pdf["c_price_mean"], cust["price_mean"], rtol=1e-9)
    np.testing.assert_allclose(pdf["c_newness_days"], cust["newness_days"], rtol=1e-9)
    art = cand.merge(expected_article(TX_ROWS, CUTOFF), on="article_id", how="left")
    np.testing.assert_allclose(pdf["a_units_4w"], art["units_4w"])
    np.testing.assert_allclose(pdf["a_buyer_age_std"], art["buyer_age_std"].astype(float),
                               rtol=1e-9)
    np.testing.assert_allclose(pdf["age_gap"], cust["age"] - art["buyer_age_mean"], rtol=1e-9)


def test_assemble_tolerates_missing_score_columns_and_pair_table(spark, built):
    """Candidates with only some score columns and no pair features: the same FEATURE_COLUMNS,
    the absent scores null, the pair counts 0."""
    wh, _ = built
    cands = (spark.createDataFrame(CANDIDATES, CANDIDATE_SCHEMA)
             .filter(F.col("cutoff") == F.lit(CUTOFF))
             .select("cutoff", "customer_key", "article_id", "sources", "popular_rank"))
    df = assemble_frames(cands, None, read_table(spark, wh, "articles"),
                         *[read_features(spark, wh, n, CUTOFF)
                           for n in (B.CUSTOMER_ARTICLE, B.CUSTOMER_CATEGORY, B.CUSTOMER,
                                     B.ARTICLE)])
    pdf = df.toPandas()
    assert list(pdf.columns[4:]) == FEATURE_COLUMNS
    assert len(pdf) == sum(1 for c in CANDIDATES if c[0] == CUTOFF)
    assert pdf["pair_score_max"].isna().all() and pdf["category_rank"].isna().all()
    assert (pdf["pair_count_max"] == 0).all() and (pdf["pair_count_sum"] == 0).all()
    assert row(pdf, 0, 707001)["popular_rank"] == 3
    assert row(pdf, 0, 101001)["ca_units_all"] == 12
