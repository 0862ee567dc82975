"""Segments and category preferences (hmspark.insights) on a hand-made history: the profile, RFM
tiers and segment names worked out by hand, no leakage from rows after the cutoff, the k-means
choice on two obviously different groups, preference shares summing to 1, and the lift against an
independent pandas computation.  One warehouse per module (``built``) goes through jobs/segments.py.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from factories import articles_df, transactions_df
from hmspark import schema as S
from hmspark.config import SegmentSettings
from hmspark.insights import PREFERENCES_TABLE, SEGMENTS_TABLE
from hmspark.insights.profile import customer_profile
from hmspark.insights.segments import rfm_labels, value_thresholds
from hmspark.tables import read_table, write_table

ROOT = Path(__file__).resolve().parents[1]
CUTOFF = dt.date(2020, 9, 22)
CFG = SegmentSettings(window_days=364, active_days=30, lapsed_days=182, new_days=56,
                      frequent_min_days=4, k_min=2, k_max=4, k_sample=10_000, seed=3)

ARTICLES = [
    dict(article_id=1, index_group_name="Ladieswear", product_group_name="Garment Upper body",
         garment_group_name="Jersey Basic", colour_group_name="Black"),
    dict(article_id=2, index_group_name="Menswear", product_group_name="Garment Lower body",
         garment_group_name="Trousers", colour_group_name="Blue"),
    dict(article_id=3, index_group_name="Divided", product_group_name="Accessories",
         garment_group_name="Accessories", colour_group_name="White"),
    dict(article_id=4, index_group_name="Ladieswear", product_group_name="Underwear",
         garment_group_name="Under-, Nightwear", colour_group_name=None),
]

# (customer_key, days before the cutoff (negative = after it), article, price, channel)
HISTORY = [
    (1, 10, 1, 0.05, 2),                                                  # new
    (2, 400, 3, 0.01, 1), (2, 300, 3, 0.02, 1),                           # lapsed
    (3, 5, 1, 0.10, 2), (3, 20, 4, 0.08, 2), (3, 60, 1, 0.09, 2),         # champions
    (3, 100, 4, 0.07, 1), (3, 200, 1, 0.06, 2),
    (4, 3, 2, 0.01, 1), (4, 40, 2, 0.01, 1), (4, 90, 2, 0.01, 1),         # loyal, low value
    (4, 250, 2, 0.01, 1),
    (5, 60, 1, 0.12, 2), (5, 120, 4, 0.10, 2), (5, 300, 1, 0.08, 2),      # at risk
    (6, 500, 3, 0.02, 1), (6, 100, 3, 0.03, 1),                           # occasional
    (7, 0, 2, 0.02, 1), (7, 0, 3, 0.03, 2), (7, 200, 2, 0.02, 1),         # loyal (bought today)
]
AFTER = [(7, -2, 1, 0.50, 2), (8, -3, 2, 0.04, 1), (1, -1, 3, 0.9, 1), (4, -5, 1, 0.3, 2)]
# key: (age, club_member_status)
CUSTOMERS = {0: (None, None), 1: (22, "ACTIVE"), 2: (50, "ACTIVE"), 3: (35, "ACTIVE"),
             4: (24, "PRE-CREATE"), 5: (65, "ACTIVE"), 6: (45, "ACTIVE"), 7: (30, None),
             8: (40, "ACTIVE")}

# By hand.  Window buyers' spend, sorted: c2 0.02, c6 0.03, c4 0.04, c1 0.05, c7 0.07, c5 0.30,
# c3 0.40; 1/3 quantile = the 3rd of 7 = 0.04, 2/3 quantile = the 5th = 0.07.
EXPECTED = {
    # key: (recency, first, frequency, units, monetary, active_weeks, online_share, fav_index,
    #       fav_product, age_band, club, cell, segment)
    0: (None, None, 0, 0, 0.0, 0, None, None, None, "unknown", "unknown", "R0F0M0", "no purchase"),
    1: (10, 10, 1, 1, 0.05, 1, 1.0, "Ladieswear", "Garment Upper body", "<25", "ACTIVE",
        "R3F1M2", "new"),
    2: (300, 400, 1, 1, 0.02, 1, 0.0, "Divided", "Accessories", "45-54", "ACTIVE", "R1F1M1",
        "lapsed"),
    3: (5, 200, 5, 5, 0.40, 5, 0.8, "Ladieswear", "Garment Upper body", "35-44", "ACTIVE",
        "R3F3M3", "champions"),
    4: (3, 250, 4, 4, 0.04, 4, 0.0, "Menswear", "Garment Lower body", "<25", "PRE-CREATE",
        "R3F3M1", "loyal"),
    5: (60, 300, 3, 3, 0.30, 3, 1.0, "Ladieswear", "Garment Upper body", "65+", "ACTIVE",
        "R2F2M3", "at risk"),
    6: (100, 500, 1, 1, 0.03, 1, 0.0, "Divided", "Accessories", "45-54", "ACTIVE", "R2F1M1",
        "occasional"),
    7: (0, 200, 2, 3, 0.07, 2, 1 / 3, "Menswear", "Garment Lower body", "25-34", "unknown",
        "R3F2M2", "loyal"),
    8: (None, None, 0, 0, 0.0, 0, None, None, None, "35-44", "ACTIVE", "R0F0M0", "no purchase"),
}


def day(days_before: int) -> str:
    return str(CUTOFF - dt.timedelta(days=days_before))


def tx_rows(history):
    return [(day(d), c, a, p, ch) for c, d, a, p, ch in history]


def customers_frame(spark, customers):
    rows = [(f"{k:064x}", k, None, None, club, None, age, None, True)
            for k, (age, club) in customers.items()]
    return spark.createDataFrame(rows, S.CUSTOMERS_SCHEMA)


def profile_of(spark, history):
    tx = transactions_df(spark, tx_rows(history))
    return customer_profile(tx, customers_frame(spark, CUSTOMERS), articles_df(spark, ARTICLES),
                            CUTOFF, CFG)


# Two groups that differ in every behaviour: 12 frequent online Ladieswear buyers aged 20-25 and
# 12 one-off store Menswear buyers aged 55-60 (keys 100.., 200..).
GROUP_A = list(range(100, 112))
GROUP_B = list(range(200, 212))


def group_history():
    rows = []
    for i, c in enumerate(GROUP_A):
        for d in (1 + i % 3, 8 + i % 4, 15, 29 + i % 5):
            rows.append((c, d, 1 if d % 2 else 4, 0.05 + 0.001 * i, 2))
    for i, c in enumerate(GROUP_B):
        rows.append((c, 150 + 3 * i, 2, 0.02 + 0.0005 * i, 1))
    return rows


def group_customers():
    out = {c: (20 + i % 6, "ACTIVE") for i, c in enumerate(GROUP_A)}
    out.update({c: (55 + i % 6, "ACTIVE") for i, c in enumerate(GROUP_B)})
    return out


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    """A warehouse with the hand-made history (plus rows after the cutoff and the two groups),
    through jobs/segments.py."""
    wh = str(tmp_path_factory.mktemp("insights-seg") / "warehouse")
    history = HISTORY + AFTER + group_history()
    write_table(transactions_df(spark, tx_rows(history)), wh, "transactions")
    write_table(customers_frame(spark, {**CUSTOMERS, **group_customers()}), wh, "customers")
    write_table(articles_df(spark, ARTICLES), wh, "articles")
    spec = importlib.util.spec_from_file_location("segments_job", ROOT / "jobs" / "segments.py")
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    argv = ["--warehouse", wh, "--cutoff", str(CUTOFF), "--set", "spark.log_level=ERROR"]
    for key in ("window_days", "active_days", "lapsed_days", "new_days", "frequent_min_days",
                "k_min", "k_max", "k_sample", "seed"):
        argv += ["--set", f"segments.{key}={getattr(CFG, key)}"]
    assert job.main(argv) == 0
    return wh


def test_profile_and_rfm_by_hand(spark):
    profile = profile_of(spark, HISTORY + AFTER)
    assert value_thresholds(profile) == (pytest.approx(0.04), pytest.approx(0.07))
    got = {r["customer_key"]: r for r in rfm_labels(profile, CFG).collect()}
    assert set(got) == set(EXPECTED)
    for key, exp in EXPECTED.items():
        r = got[key]
        actual = (r["recency_days"], r["first_purchase_days"], r["frequency"], r["units"],
                  r["monetary"], r["active_weeks"], r["online_share"], r["fav_index_group"],
                  r["fav_product_group"], r["age_band"], r["club_member_status"], r["rfm_cell"],
                  r["rfm_segment"])
        for name, a, e in zip(("recency", "first", "frequency", "units", "monetary",
                               "active_weeks", "online_share", "fav_index", "fav_product",
                               "age_band", "club", "cell", "segment"), actual, exp):
            if isinstance(e, float):
                assert a == pytest.approx(e), (key, name, a, e)
            else:
                assert a == e, (key, name, a, e)
        assert r["cutoff"] == CUTOFF
    assert got[7]["spend_per_day"] == pytest.approx(0.035)
    assert got[0]["spend_per_day"] is None


def test_nothing_after_the_cutoff_leaks(spark):
    cols = ["customer_key", "recency_days", "frequency", "units", "monetary", "online_share",
            "fav_index_group", "rfm_segment"]
    with_after = rfm_labels(profile_of(spark, HISTORY + AFTER), CFG).select(cols)
    without = rfm_labels(profile_of(spark, HISTORY), CFG).select(cols)
    assert sorted(with_after.collect()) == sorted(without.collect())


def test_segments_table_has_both_labels_for_every_customer(spark, built):
    seg = read_table(spark, built, SEGMENTS_TABLE).toPandas().set_index("customer_key")
    assert len(seg) == len(CUSTOMERS) + len(GROUP_A) + len(GROUP_B)
    assert (seg["cutoff"] == CUTOFF).all()
    for key, exp in EXPECTED.items():
        assert seg.loc[key, "rfm_segment"] == exp[-1]
    assert seg["cluster_name"].notna().all() and seg["rfm_segment"].notna().all()
    buyers = seg["frequency"] > 0
    assert (seg.loc[buyers, "cluster"] >= 0).all()
    assert (seg.loc[~buyers, "cluster"] == -1).all()
    assert set(seg.loc[~buyers, "cluster_name"]) == {"no purchase in window"}


def test_k_chosen_by_silhouette_separates_the_two_groups(spark, built):
    scores = read_table(spark, built, "segment_k_scores").toPandas()
    assert sorted(scores["k"]) == [2, 3, 4]
    chosen = scores[scores["chosen"]]
    assert len(chosen) == 1
    assert chosen["silhouette"].iloc[0] == scores["silhouette"].max()
    seg = read_table(spark, built, SEGMENTS_TABLE).toPandas().set_index("customer_key")
    a, b = set(seg.loc[GROUP_A, "cluster"]), set(seg.loc[GROUP_B, "cluster"])
    assert not a & b, (a, b)
    clusters = read_table(spark, built, "segment_clusters").toPandas()
    assert len(clusters) == int(chosen["k"].iloc[0])
    assert clusters["customers"].sum() == (seg["frequency"] > 0).sum()
    names = dict(zip(clusters["cluster"], clusters["cluster_name"]))
    assert all(names[c].startswith(f"C{c}: ") for c in names)
    # the names say what differs: group A's cluster is online and Ladieswear
    a_name = names[next(iter(a))]
    assert "online" in a_name or "Ladieswear" in a_name or "frequent" in a_name, a_name


def test_preference_shares_sum_to_one(spark, built):
    prefs = read_table(spark, built, PREFERENCES_TABLE).toPandas()
    assert set(prefs["segment_type"]) == {"rfm", "cluster"}
    assert set(prefs["dimension"]) == {"index_group", "product_group", "garment_group",
                                       "colour_group", "price_band"}
    sums = prefs.groupby(["segment_type", "segment", "dimension"])["share"].sum()
    assert np.allclose(sums.to_numpy(), 1.0)
    units = prefs.groupby(["segment_type", "segment", "dimension"])["units"].sum()
    seg_units = prefs.groupby(["segment_type", "segment", "dimension"])["segment_units"].first()
    assert (units == seg_units).all()
    # colour null -> "unknown"
    assert "unknown" in set(prefs.loc[prefs["dimension"] == "colour_group", "value"])


def test_lift_against_pandas(spark, built):
    """Recompute every share and lift from the raw rows with pandas (window, price terciles,
    category names, the labels of the segments table)."""
    history = HISTORY + AFTER + group_history()
    raw = pd.DataFrame(history, columns=["customer_key", "days_before", "article_id", "price",
                                         "channel"])
    raw = raw[(raw["days_before"] >= 0) & (raw["days_before"] < CFG.window_days)]
    lo, hi = np.quantile(raw["price"], [1 / 3, 2 / 3], method="inverted_cdf")
    raw["price_band"] = np.where(raw["price"] <= lo, "low",
                                 np.where(raw["price"] <= hi, "mid", "high"))
    arts = pd.DataFrame(ARTICLES).fillna("unknown").rename(columns={
        "index_group_name": "index_group", "product_group_name": "product_group",
        "garment_group_name": "garment_group", "colour_group_name": "colour_group"})
    seg = read_table(spark, built, SEGMENTS_TABLE).select(
        "customer_key", "rfm_segment", "cluster_name").toPandas()
    units = raw.merge(arts, on="article_id").merge(seg, on="customer_key")
    expected = {}
    for kind, column in (("rfm", "rfm_segment"), ("cluster", "cluster_name")):
        for dim in ("index_group", "product_group", "garment_group", "colour_group", "price_band"):
            overall = units[dim].value_counts(normalize=True)
            for segment, g in units.groupby(column):
                share = g[dim].value_counts(normalize=True)
                for value, s in share.items():
                    expected[(kind, segment, dim, value)] = (s, s / overall[value])
    prefs = read_table(spark, built, PREFERENCES_TABLE).toPandas()
    got = {(r.segment_type, r.segment, r.dimension, r.value): (r.share, r.lift)
           for r in prefs.itertuples()}
    assert set(got) == set(expected)
    for key, (share, lift) in expected.items():
        assert got[key][0] == pytest.approx(share), key
        assert got[key][1] == pytest.approx(lift), key


def test_missing_table_names_it(spark, tmp_path):
    from hmspark.insights import build_segments
    from hmspark.tables import TableNotFound

    with pytest.raises(TableNotFound, match="'transactions'"):
        build_segments(spark, str(tmp_path / "empty"), CUTOFF, CFG)
