"""Ranker pieces: labels, negative sampling, query groups, scoring on executors, top-12 with fill,
and the submission file format."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from hmspark.config import TrainSettings
from hmspark.ranker.dataset import (MAX_GROUP_ROWS, group_sizes, label_candidates,
                                    sample_training_rows, sort_groups, is_sorted)
from hmspark.ranker.model import fit_ranker, predict
from hmspark.ranker.score import score_candidates, top_k_with_fill
from hmspark.submission import check_submission, submission_frame, write_submission
from tests.factories import customers_df, transactions_df

CUTOFF = dt.date(2020, 9, 15)


def test_labels_use_only_the_target_week(spark):
    cands = spark.createDataFrame([(CUTOFF, 1, 10), (CUTOFF, 1, 11), (CUTOFF, 2, 10)],
                                  "cutoff date, customer_key int, article_id int")
    tx = transactions_df(spark, [
        ("2020-09-15", 1, 11),   # on the cutoff: history, not a label
        ("2020-09-16", 1, 10),   # first day of the target week
        ("2020-09-22", 2, 10),   # last day of the target week
        ("2020-09-23", 1, 11),   # after the target week
        ("2020-09-16", 1, 10),   # a second unit: still label 1, one row
    ])
    got = {(r["customer_key"], r["article_id"]): r["label"]
           for r in label_candidates(cands, tx, CUTOFF).collect()}
    assert got == {(1, 10): 1, (1, 11): 0, (2, 10): 1}


def labelled_rows(spark, n_customers=60, per_customer=20, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for cutoff in (dt.date(2020, 9, 1), dt.date(2020, 9, 8)):
        for c in range(n_customers):
            labels = (rng.random(per_customer) < 0.1).astype(int)
            if c % 3 == 0:
                labels[:] = 0                       # a group with no positive
            for a in range(per_customer):
                rows.append((cutoff, c, a, int(labels[a]), float(rng.random())))
    return spark.createDataFrame(rows, "cutoff date, customer_key int, article_id int, "
                                       "label int, f1 double")


def test_sampling_keeps_positives_drops_empty_groups_and_caps_negatives(spark):
    df = labelled_rows(spark)
    pdf = df.toPandas()
    cfg = TrainSettings(negatives_per_week=200, negative_rate=1.0, seed=3)
    got = sample_training_rows(df, cfg).toPandas()
    has_pos = pdf.groupby(["cutoff", "customer_key"])["label"].transform("max") > 0
    expected_pos = pdf[pdf["label"] == 1]
    assert len(got[got["label"] == 1]) == len(expected_pos)
    assert got.groupby(["cutoff", "customer_key"])["label"].max().min() == 1
    neg_pool = pdf[has_pos & (pdf["label"] == 0)].groupby("cutoff").size()
    neg_kept = got[got["label"] == 0].groupby("cutoff").size()
    for cutoff, n in neg_kept.items():
        # A hashed Bernoulli sample at rate 200/pool: within a few standard deviations of 200.
        p = 200 / neg_pool[cutoff]
        assert abs(n - 200) < 4 * np.sqrt(neg_pool[cutoff] * p * (1 - p)) + 1
    # Deterministic: the same seed keeps the same rows.
    again = sample_training_rows(df.repartition(3), cfg).toPandas()
    key = ["cutoff", "customer_key", "article_id"]
    assert got.sort_values(key)[key].values.tolist() == again.sort_values(key)[key].values.tolist()


def test_group_sizes_contiguous_and_sum_to_rows(spark):
    pdf = sample_training_rows(labelled_rows(spark), TrainSettings(negatives_per_week=10**6)) \
        .toPandas().sample(frac=1.0, random_state=1)           # shuffled on purpose
    with pytest.raises(ValueError, match="not contiguous"):
        group_sizes(pdf)
    assert not is_sorted(pdf)
    ordered = sort_groups(pdf)
    assert is_sorted(ordered) and sort_groups(ordered) is ordered   # no second copy
    assert ordered[["cutoff", "customer_key", "article_id"]].equals(
        pdf.sort_values(["cutoff", "customer_key", "article_id"])
        [["cutoff", "customer_key", "article_id"]].reset_index(drop=True))
    sizes = group_sizes(ordered)
    assert sizes.sum() == len(ordered)
    expected = ordered.groupby(["cutoff", "customer_key"], sort=True).size().to_numpy()
    assert sizes.tolist() == expected.tolist()
    assert all(ordered.groupby(["cutoff", "customer_key"])["label"].max() == 1)


def test_group_over_lightgbm_limit_is_refused():
    frame = pd.DataFrame({"cutoff": [1] * (MAX_GROUP_ROWS + 1), "customer_key": 7,
                          "article_id": range(MAX_GROUP_ROWS + 1), "label": 0})
    with pytest.raises(ValueError, match="10000"):
        group_sizes(frame)


def test_ranker_learns_and_scores_on_executors_like_on_the_driver(spark):
    """A feature that decides the label: lambdarank must rank by it, and mapInPandas scoring on the
    executors must give the driver's predictions."""
    rng = np.random.default_rng(5)
    rows = []
    for cutoff in (dt.date(2020, 9, 1), dt.date(2020, 9, 8)):
        for c in range(200):
            signal = rng.random(15)
            noise = rng.random(15)
            labels = (signal > 0.8).astype(int)
            labels[np.argmax(signal)] = 1
            for a in range(15):
                rows.append((cutoff, c, a, int(labels[a]), float(signal[a]), float(noise[a])))
    pdf = pd.DataFrame(rows, columns=["cutoff", "customer_key", "article_id", "label", "signal",
                                      "noise"])
    cfg = TrainSettings(num_boost_round=40, early_stopping_rounds=10, num_leaves=7,
                        min_child_samples=5, threads=1)
    model = fit_ranker(pdf[pdf["cutoff"] == dt.date(2020, 9, 1)],
                       pdf[pdf["cutoff"] == dt.date(2020, 9, 8)], ["signal", "noise"], cfg)
    imp = model.importances()
    assert imp["signal"] > imp["noise"]
    assert model.meta["valid_candidate_map_at_12"] > 0.9
    test = pdf[pdf["cutoff"] == dt.date(2020, 9, 8)].drop(columns=["cutoff"])
    local = predict(model, test)
    sdf = spark.createDataFrame(test).repartition(3)
    scored = score_candidates(spark, sdf, model).toPandas()
    merged = test.assign(local=local).merge(scored, on=["customer_key", "article_id"])
    assert len(merged) == len(test)
    np.testing.assert_allclose(merged["local"], merged["score"], rtol=1e-6)
    # A model whose feature list the candidates lack (trained by another version): a clear error
    # naming the feature, before any Spark job.
    with pytest.raises(ValueError, match="noise.*train it again"):
        score_candidates(spark, sdf.drop("noise"), model)


def test_top_k_with_fill_gives_twelve_distinct_per_customer(spark):
    customers = customers_df(spark, [(1, 30), (2, 40), (3, None)])
    ranked = spark.createDataFrame(
        [(1, a, float(100 - a)) for a in range(20)] +          # 20 candidates: top 12 by score
        [(2, 500, 0.5), (2, 501, 0.9), (2, 900, 0.1)],         # 3 candidates, one also in fill
        "customer_key int, article_id int, score double")
    fill = [900, 901, 902, 903, 904, 905, 906, 907, 908, 909, 910, 911]
    recs = top_k_with_fill(spark, ranked, customers, fill).toPandas()
    by_c = {c: g.sort_values("rank")["article_id"].tolist() for c, g in recs.groupby("customer_key")}
    assert by_c[1] == list(range(12))
    assert by_c[2] == [501, 500, 900] + fill[1:10]
    assert by_c[3] == fill                                      # cold start: all fill
    assert all(len(set(v)) == 12 for v in by_c.values())
    assert set(recs["rank"]) == set(range(1, 13))


def test_submission_format(spark, tmp_path):
    customers = customers_df(spark, [(1, 30), (2, 40)])
    recs = spark.createDataFrame([(c, r, 108775015 + r if c == 1 else 512 + r)
                                  for c in (1, 2) for r in range(1, 13)],
                                 "customer_key int, rank int, article_id int")
    path = write_submission(submission_frame(recs, customers), tmp_path / "submission.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "customer_id,prediction"
    rows = dict(line.split(",") for line in lines[1:])
    assert rows[f"{1:064x}"].split(" ")[:2] == ["0108775016", "0108775017"]
    assert rows[f"{2:064x}"].split(" ")[0] == "0000000513"
    assert check_submission(path, {f"{1:064x}", f"{2:064x}"}) == 2
    with pytest.raises(ValueError, match="1 customers missing"):
        check_submission(path, {f"{1:064x}", f"{2:064x}", f"{3:064x}"})


def test_sampling_with_separate_labels_keeps_the_same_rows(spark):
    # The pipeline counts groups and negatives on the cheap label frame; the sample is the same.
    df = labelled_rows(spark)
    cfg = TrainSettings(negatives_per_week=200, negative_rate=1.0, seed=3)
    key = ["cutoff", "customer_key", "article_id"]
    alone = sample_training_rows(df, cfg).toPandas().sort_values(key)[key].values.tolist()
    labels = df.select(*key, "label")
    split = sample_training_rows(df, cfg, labels=labels).toPandas().sort_values(key)[key]
    assert split.values.tolist() == alone
