"""MAP@12 against values computed by hand, and against Spark MLlib's RankingEvaluator."""

from __future__ import annotations

import random

import pytest

from hmspark.metrics import per_customer_scores, ranking_scores


def long_predictions(spark, preds: dict[int, list[int]]):
    rows = [(c, i + 1, a) for c, arts in preds.items() for i, a in enumerate(arts)]
    return spark.createDataFrame(rows, "customer_key int, rank int, article_id int")


def actual_df(spark, bought: dict[int, list[int]]):
    rows = [(c, a) for c, arts in bought.items() for a in arts]
    return spark.createDataFrame(rows, "customer_key int, article_id int")


def ap_by_customer(spark, preds, bought):
    df = per_customer_scores(long_predictions(spark, preds), actual_df(spark, bought))
    return {r["customer_key"]: r["ap"] for r in df.collect()}


def test_hand_computed_average_precision(spark):
    preds = {
        1: [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21],   # hits at 1 and 3
        2: [30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41],   # hit at 12 only
        3: [50, 51, 52],                                         # no hit
        4: [60, 61, 60, 62],                                     # 60 twice: one hit only
        # 5 bought but has no prediction -> 0
        6: [70, 71],                                             # did not buy: not counted
    }
    bought = {
        1: [10, 12, 99, 10],        # 3 distinct, 10 bought twice
        2: [41],
        3: [1],
        4: [60],
        5: [5],
    }
    got = ap_by_customer(spark, preds, bought)
    assert got[1] == pytest.approx((1 / 1 + 2 / 3) / 3)
    assert got[2] == pytest.approx((1 / 12) / 1)
    assert got[3] == 0
    assert got[4] == pytest.approx(1.0)
    assert got[5] == 0
    assert 6 not in got
    scores = ranking_scores(long_predictions(spark, preds), actual_df(spark, bought))
    assert scores.buyers == 5
    assert scores.map_at_k == pytest.approx(((1 + 2 / 3) / 3 + 1 / 12 + 0 + 1 + 0) / 5)
    assert scores.recall_at_k == pytest.approx((2 / 3 + 1 + 0 + 1 + 0) / 5)
    assert scores.precision_at_k == pytest.approx((2 + 1 + 0 + 1 + 0) / 12 / 5)


def test_denominator_caps_at_twelve_and_positions_beyond_twelve_do_not_count(spark):
    bought = {1: list(range(100, 120))}                       # 20 distinct articles bought
    preds = {1: [100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 101]}  # 101 at position 13: ignored
    assert ap_by_customer(spark, preds, bought)[1] == pytest.approx(1 / 12)


def test_fewer_actual_items_than_twelve(spark):
    preds = {1: [5, 6, 7, 8]}
    bought = {1: [6, 8]}
    # hits at 2 and 4: (1/2 + 2/4) / min(2, 12)
    assert ap_by_customer(spark, preds, bought)[1] == pytest.approx((0.5 + 0.5) / 2)


def test_agrees_with_mllib_ranking_evaluator(spark):
    """On random data without duplicate predictions, MLlib's meanAveragePrecisionAtK, fed only the
    buying customers, is the same number."""
    from pyspark.ml.evaluation import RankingEvaluator

    rng = random.Random(7)
    preds, bought = {}, {}
    for c in range(300):
        preds[c] = rng.sample(range(60), 12)
        if rng.random() < 0.6:
            bought[c] = [rng.randrange(60) for _ in range(rng.randint(1, 15))]
    ours = ranking_scores(long_predictions(spark, preds), actual_df(spark, bought)).map_at_k
    rows = [([float(a) for a in preds[c]], [float(a) for a in dict.fromkeys(bought[c])])
            for c in bought]
    df = spark.createDataFrame(rows, "prediction array<double>, label array<double>")
    theirs = RankingEvaluator(metricName="meanAveragePrecisionAtK", k=12).evaluate(df)
    assert ours == pytest.approx(theirs, rel=1e-9)
    assert ours > 0
