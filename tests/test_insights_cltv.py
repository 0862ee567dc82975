"""CLTV (hmspark.insights.cltv): the per-customer summary of a tiny hand-made history worked out by
hand, no leakage, the library against the published CDNOW estimates, a fit on a simulated history
that predicts non-negative values, the degenerate customers (none, one purchase day, first purchase
on the cutoff day), a fit that cannot converge or has nothing to fit, and the holdout check through
jobs/cltv.py against an independent pandas count."""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from factories import articles_df, customers_df, transactions_df
from hmspark.config import CltvSettings
from hmspark.insights import cltv as C
from hmspark.insights.build import CLTV_HOLDOUT_TABLE, CLTV_MODELS_TABLE, CLTV_TABLE
from hmspark.tables import read_table, write_table

ROOT = Path(__file__).resolve().parents[1]
CUTOFF = dt.date(2020, 9, 22)


def day(days_before: int) -> str:
    return str(CUTOFF - dt.timedelta(days=days_before))


# (customer_key, days before the cutoff, price); several rows on one day are one purchase day.
TINY = [
    (1, 30, 0.02), (1, 30, 0.03),                                  # one purchase day
    (2, 70, 0.10), (2, 40, 0.02), (2, 40, 0.04), (2, 10, 0.03),    # three purchase days
    (3, 0, 0.05),                                                  # first purchase on the cutoff
    (4, 20, 0.06), (4, 0, 0.01), (4, 0, 0.01),                     # repeat on the cutoff day
]
AFTER = [(1, -1, 0.5), (0, -2, 0.3), (4, -3, 0.2), (5, -1, 0.1)]
# key: (has_purchase, n_purchase_days, frequency, recency_days, T_days, total, mean, monetary)
BY_HAND = {
    0: (False, 0, None, None, None, None, None, None),
    1: (True, 1, 0, 0, 30, 0.05, 0.05, 0.0),
    2: (True, 3, 2, 60, 70, 0.19, 0.19 / 3, (0.06 + 0.03) / 2),
    3: (True, 1, 0, 0, 0, 0.05, 0.05, 0.0),
    4: (True, 2, 1, 20, 20, 0.08, 0.04, 0.02),
    5: (False, 0, None, None, None, None, None, None),
}


def tx(spark, rows):
    return transactions_df(spark, [(day(d), c, 1, p) for c, d, p in rows])


def summary_of(spark, rows, keys, cutoff=CUTOFF):
    return C.cltv_summary(tx(spark, rows), customers_df(spark, [(k, 30) for k in keys]), cutoff)


def simulated_history(n: int = 300, weeks: int = 52, seed: int = 7) -> list[tuple]:
    """A BG/NBD-like world: each customer buys at their own Poisson rate (purchase days per week)
    and may drop out after each purchase; spend per day varies around the customer's own mean."""
    rng = random.Random(seed)
    rows = []
    for c in range(n):
        start = rng.randint(0, weeks * 7 - 1)              # days before the cutoff
        rate = rng.gammavariate(1.2, 0.25) / 7              # purchase days per day
        mean_spend = rng.gammavariate(4.0, 0.01)
        p_drop = rng.betavariate(1.0, 4.0)
        d = start
        while d >= 0:
            rows.append((c, d, round(mean_spend * rng.gammavariate(6.0, 1 / 6.0) + 0.001, 5)))
            if rng.random() < p_drop:
                break
            d -= max(1, int(rng.expovariate(rate))) if rate > 0 else d + 1
    return rows


def test_summary_by_hand(spark):
    got = {r["customer_key"]: r for r in summary_of(spark, TINY + AFTER, range(6)).collect()}
    assert set(got) == set(BY_HAND)
    names = ("has_purchase", "n_purchase_days", "frequency", "recency_days", "T_days",
             "total_spend", "mean_spend", "monetary_value")
    for key, exp in BY_HAND.items():
        for name, e in zip(names, exp):
            a = got[key][name]
            if isinstance(e, float):
                assert a == pytest.approx(e), (key, name)
            else:
                assert a == e, (key, name, a, e)
        assert got[key]["cutoff"] == CUTOFF


def test_summary_ignores_rows_after_the_cutoff(spark):
    with_after = summary_of(spark, TINY + AFTER, range(6)).collect()
    without = summary_of(spark, TINY, range(6)).collect()
    assert sorted(with_after) == sorted(without)


def test_lifetimes_reproduces_the_published_cdnow_estimates():
    """Fader, Hardie & Lee (2005): BG/NBD on CDNOW r=0.243, alpha=4.414, a=0.793, b=2.426; Fader &
    Hardie's Gamma-Gamma note: p=6.25, q=3.74, v=15.44.  Guards the pinned library against numpy /
    scipy / pandas changes (the data set ships inside the lifetimes wheel)."""
    from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value

    d = load_cdnow_summary_data_with_monetary_value()
    patterns = pd.DataFrame({"frequency": d["frequency"], "recency_days": d["recency"] * 7,
                             "T_days": d["T"] * 7, "customers": 1})
    bg = C.fit_bgnbd(patterns)
    assert bg == pytest.approx({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, rel=0.01)
    repeat = d[d["frequency"] > 0]
    gg = C.fit_gamma_gamma(repeat)
    assert gg == pytest.approx({"p": 6.25, "q": 3.74, "v": 15.44}, rel=0.01)


def test_fit_and_predict_non_negative_with_degenerate_customers(spark):
    rows = simulated_history() + [(r[0] + 1000, r[1], r[2]) for r in TINY]
    keys = list(range(300)) + [1000 + k for k in BY_HAND]
    summary = summary_of(spark, rows, keys).cache()
    model = C.fit_models(summary, CltvSettings(min_repeat_customers=20))
    assert model.status == C.OK, model.message
    assert model.customers == summary.filter("has_purchase").count()
    assert all(np.isfinite(v) and v > 0 for v in {**model.bgnbd, **model.gamma_gamma}.values())
    scored = C.score_customers(summary, model, 52).toPandas().set_index("customer_key")
    assert len(scored) == len(keys)
    buyers = scored[scored["has_purchase"]]
    for col in ("p_alive", "expected_purchases", "expected_spend", "expected_value"):
        assert buyers[col].notna().all(), col
        assert (buyers[col] >= 0).all(), col
    assert (buyers["p_alive"] <= 1).all()
    assert np.allclose(buyers["expected_value"],
                       buyers["expected_purchases"] * buyers["expected_spend"])
    # no purchase: 0 and its own status; one purchase day (1001) and first purchase on the cutoff
    # day (1003): scored, with the population's mean spend (p v / (q - 1))
    for k in (1000, 1005):
        r = scored.loc[k]
        assert r["status"] == C.NO_PURCHASE
        assert r["expected_purchases"] == 0 and r["expected_value"] == 0
    p, q, v = (model.gamma_gamma[k] for k in "pqv")
    for k in (1001, 1003):
        r = scored.loc[k]
        assert r["status"] == C.OK and r["p_alive"] == pytest.approx(1.0)
        assert r["expected_spend"] == pytest.approx(p * v / (q - 1))
        assert r["expected_purchases"] > 0
    # the library's own calls on the same customers agree with the scores
    from lifetimes import BetaGeoFitter

    bgf = BetaGeoFitter()
    bgf.params_ = pd.Series(model.bgnbd)
    two = buyers.loc[[1002, 1004]]
    lib = bgf.conditional_expected_number_of_purchases_up_to_time(
        52, two["frequency"].to_numpy(float), two["recency_days"].to_numpy(float) / 7,
        two["T_days"].to_numpy(float) / 7)
    assert np.allclose(two["expected_purchases"].to_numpy(), lib)
    summary.unpersist()


def test_no_repeat_purchase_gives_a_clear_message_not_a_crash(spark):
    """A single day of history (the real sample): everyone has one purchase day, T = 0."""
    rows = [(c, 0, 0.01 * (1 + c % 3)) for c in range(40)]
    summary = summary_of(spark, rows, range(45))
    model = C.fit_models(summary, CltvSettings())
    assert model.status == C.NOT_FITTED and model.bgnbd is None
    assert "repeat purchase day" in model.message and "1 day(s)" in model.message
    scored = C.score_customers(summary, model, 52).toPandas()
    assert set(scored["status"]) == {C.NOT_FITTED, C.NO_PURCHASE}
    assert scored.loc[scored["status"] == C.NOT_FITTED, "expected_value"].isna().all()
    assert (scored.loc[scored["status"] == C.NO_PURCHASE, "expected_value"] == 0).all()


def test_single_day_warehouse_writes_every_table(spark, tmp_path):
    """The whole build on one day of history (as the real sample): no model, no holdout, a clear
    message, tables written, no error (a total value of 0 has no shares)."""
    from hmspark.insights import build_cltv

    wh = str(tmp_path / "wh")
    write_table(tx(spark, [(c, 0, 0.01 * (1 + c % 3)) for c in range(30)]), wh, "transactions")
    write_table(customers_df(spark, [(k, 30) for k in range(35)]), wh, "customers")
    write_table(articles_df(spark, [{"article_id": 1}]), wh, "articles")
    result = build_cltv(spark, wh, None, CltvSettings())
    assert result.cutoff == CUTOFF and result.model.status == C.NOT_FITTED
    assert "no holdout check" in result.holdout_message and result.holdout == []
    assert any("WARNING" in line and "repeat purchase day" in line for line in result.lines())
    everyone = [r for r in result.values if r["segment"] == "all"][0]
    assert everyone["customers"] == 35 and everyone["value_share"] is None
    assert read_table(spark, wh, CLTV_TABLE).count() == 35
    models = read_table(spark, wh, CLTV_MODELS_TABLE).collect()
    assert [m["status"] for m in models] == [C.NOT_FITTED]


def test_a_fit_that_does_not_converge_says_so():
    rows = pd.DataFrame(simulated_history(200), columns=["c", "d", "p"])
    per_customer = rows.groupby("c")["d"].agg(["nunique", "max", "min"])
    patterns = pd.DataFrame({"frequency": per_customer["nunique"] - 1,
                             "recency_days": per_customer["max"] - per_customer["min"],
                             "T_days": per_customer["max"], "customers": 1})
    with pytest.raises(C.CltvFitError, match="BG/NBD did not converge.*penalizer_coef"):
        C.fit_bgnbd(patterns, options={"maxiter": 1})


@pytest.fixture(scope="module")
def holdout_warehouse(spark, tmp_path_factory):
    wh = str(tmp_path_factory.mktemp("insights-cltv") / "warehouse")
    rows = simulated_history(250, weeks=40, seed=11)
    write_table(tx(spark, rows), wh, "transactions")
    write_table(customers_df(spark, [(k, 25 + k % 40) for k in range(260)]), wh, "customers")
    write_table(articles_df(spark, [{"article_id": 1, "index_group_name": "Ladieswear"}]), wh,
                "articles")
    return wh, rows


def test_holdout_check_through_the_job(spark, holdout_warehouse):
    wh, rows = holdout_warehouse
    spec = importlib.util.spec_from_file_location("cltv_job", ROOT / "jobs" / "cltv.py")
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    assert job.main(["--warehouse", wh, "--cutoff", str(CUTOFF), "--set", "cltv.holdout_weeks=8",
                     "--set", "cltv.horizon_weeks=26", "--set", "spark.log_level=ERROR"]) == 0
    hold = read_table(spark, wh, CLTV_HOLDOUT_TABLE).toPandas().set_index("segment")
    holdout_cutoff = CUTOFF - dt.timedelta(weeks=8)
    assert (hold["holdout_cutoff"] == holdout_cutoff).all()
    # independent count: customers who bought on or before the holdout cutoff, and their purchase
    # days in the 8 weeks after it
    raw = pd.DataFrame(rows, columns=["c", "d", "p"])
    known = set(raw.loc[raw["d"] >= 56, "c"])
    after = raw[(raw["d"] < 56) & (raw["d"] >= 0) & raw["c"].isin(known)]
    assert hold.loc["all", "customers"] == len(known)
    assert hold.loc["all", "actual"] == after.groupby("c")["d"].nunique().sum()
    parts = hold.drop(index="all")
    assert parts["customers"].sum() == hold.loc["all", "customers"]
    assert parts["actual"].sum() == hold.loc["all", "actual"]
    assert parts["predicted"].sum() == pytest.approx(hold.loc["all", "predicted"])
    assert np.allclose(hold["error"], hold["predicted"] - hold["actual"])
    assert hold.loc["all", "relative_error"] == pytest.approx(
        hold.loc["all", "error"] / hold.loc["all", "actual"])
    assert (hold["predicted"] >= 0).all()
    cltv = read_table(spark, wh, CLTV_TABLE).toPandas()
    assert len(cltv) == 260 and (cltv["horizon_weeks"] == 26).all()
    assert (cltv.loc[cltv["status"] == C.OK, "expected_value"] >= 0).all()
    models = read_table(spark, wh, CLTV_MODELS_TABLE).toPandas().set_index("fit")
    assert set(models.index) == {"forecast", "holdout"}
    assert models.loc["holdout", "fitted_until"] == holdout_cutoff
    assert (models["status"] == C.OK).all()
