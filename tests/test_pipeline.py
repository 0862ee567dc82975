"""End to end in local mode: the pipeline on simulated data (the ranker must beat the popular
baseline) and on the real single day of rows (the heuristic fallback, a valid submission)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from hmspark.config import apply_override
from hmspark.pipeline import run_pipeline
from hmspark.submission import check_submission
from hmspark.synth import write_kaggle_csvs


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sim")
    write_kaggle_csvs(folder, "tiny", seed=11)
    return folder


def small_settings(settings):
    for item in ("train.train_weeks=3", "train.num_boost_round=60", "train.threads=1",
                 "train.num_leaves=15"):
        settings = apply_override(settings, item)
    return settings


def previous_export(simulated, folder):
    """The export of one week earlier: the transactions up to the last date minus 7 days, and
    customers.csv / articles.csv without the customers and articles first seen after it."""
    tx = pd.read_csv(simulated / "transactions_train.csv", dtype=str)
    last = pd.to_datetime(tx["t_dat"]).max()
    before = pd.to_datetime(tx["t_dat"]) <= last - pd.Timedelta(days=7)
    new_customers = set(tx["customer_id"]) - set(tx.loc[before, "customer_id"])
    new_articles = set(tx["article_id"]) - set(tx.loc[before, "article_id"])
    folder.mkdir()
    tx[before].to_csv(folder / "transactions_train.csv", index=False)
    customers = pd.read_csv(simulated / "customers.csv", dtype=str, keep_default_na=False)
    customers[~customers["customer_id"].isin(new_customers)].to_csv(folder / "customers.csv",
                                                                     index=False)
    articles = pd.read_csv(simulated / "articles.csv", dtype=str, keep_default_na=False)
    articles[~articles["article_id"].isin(new_articles)].to_csv(folder / "articles.csv",
                                                                index=False)
    return new_customers, new_articles


@pytest.mark.slow
def test_backtest_ranker_beats_popular_and_next_week_reuses_it(spark, settings, simulated,
                                                                tmp_path):
    # The backtest runs on last week's export; then next week's export (one more week, new
    # customers and articles) is ingested into the same warehouse and forecast.
    new_customers, new_articles = previous_export(simulated, tmp_path / "previous")
    assert new_customers and new_articles
    out, wh = tmp_path / "out", str(tmp_path / "wh")
    result = run_pipeline(spark, small_settings(settings), input_dir=str(tmp_path / "previous"),
                          warehouse=wh, output_dir=str(out), as_of="last-week", insights=False)
    assert result.mode == "ranker"
    m = result.metrics
    assert m["ranker"]["buyers"] > 0
    assert m["ranker"]["buyers"] == m["popular"]["buyers"]
    assert m["ranker"]["map_at_k"] > m["popular"]["map_at_k"]
    # The backtest also measured the recall ceiling of the same week.
    assert "union@12" in result.recall
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["metrics"]["ranker"]["map_at_k"] == pytest.approx(m["ranker"]["map_at_k"])
    meta = json.loads((out / "model" / "meta.json").read_text())
    assert len(meta["train_cutoffs"]) == 2 and meta["valid_cutoff"] < meta["prediction_cutoff"]
    customers = pd.read_csv(tmp_path / "previous" / "customers.csv", usecols=["customer_id"],
                            dtype=str)
    assert check_submission(out / "submission.csv", set(customers["customer_id"])) == len(customers)

    from hmspark.tables import read_table

    keys_before = read_table(spark, wh, "customers").select("customer_id", "customer_key") \
        .toPandas()
    from hmspark.tables import table_version

    rows_version = table_version(spark, wh, "training_rows")
    week = run_pipeline(spark, small_settings(settings), input_dir=str(simulated), warehouse=wh,
                        output_dir=str(tmp_path / "next"), insights=False)
    names = [s["step"] for s in week.steps]
    reused = sorted(n.split()[1] for n in names if n.startswith("reused "))
    built = sorted(n.split()[1] for n in names if n.startswith("candidates "))
    d = pd.Timestamp(meta["prediction_cutoff"]).date()
    seven = pd.Timedelta(days=7)
    # L = D + 14: training L-21 = D-7 (the backtest's validation week, built for its buyers) and
    # L-14 = D (the backtest's prediction cutoff, built for everyone before its week's buyers
    # bought; all of them were in that export's customers), both reused; L-7 and L are new.
    assert week.cutoff == d + 2 * seven
    assert reused == [str(d - seven), str(d)]
    assert built == [str(d + seven), str(week.cutoff)]
    # The training rows of D-7, sampled by the backtest, were read back, not sampled again: the
    # commits of this run to table training_rows replaced D's and D+7's partitions only.
    from delta.tables import DeltaTable

    from hmspark.pipeline import TRAINING_ROWS_TABLE
    from hmspark.tables import table_path

    commits = DeltaTable.forPath(spark, table_path(wh, TRAINING_ROWS_TABLE)).history().toPandas()
    replaced = sorted(str(c) for p in commits.loc[commits["version"] > rows_version,
                                                  "operationParameters"]
                      for c in (d - seven, d, d + seven) if str(c) in p.get("predicate", ""))
    assert replaced == [str(d), str(d + seven)]
    # Ingest kept every known customer's key; the new ones come after them.
    keys_after = read_table(spark, wh, "customers").select("customer_id", "customer_key") \
        .toPandas()
    both = keys_before.merge(keys_after, on="customer_id", suffixes=("_before", "_after"))
    assert len(both) == len(keys_before)
    assert (both["customer_key_before"] == both["customer_key_after"]).all()
    fresh = keys_after[~keys_after["customer_id"].isin(keys_before["customer_id"])]
    assert set(fresh["customer_id"]) == new_customers
    assert fresh["customer_key"].min() > keys_before["customer_key"].max()
    everyone = pd.read_csv(simulated / "customers.csv", usecols=["customer_id"], dtype=str)
    assert check_submission(tmp_path / "next" / "submission.csv",
                            set(everyone["customer_id"])) == len(everyone)


@pytest.mark.slow
def test_single_day_of_real_rows_falls_back_to_heuristic(spark, settings, real_head, tmp_path):
    out = tmp_path / "out"
    result = run_pipeline(spark, small_settings(settings), input_dir=str(real_head),
                          warehouse=str(tmp_path / "wh"), output_dir=str(out), insights=False)
    assert result.mode == "heuristic"
    customers = pd.read_csv(real_head / "customers.csv", usecols=["customer_id"], dtype=str)
    assert check_submission(out / "submission.csv", set(customers["customer_id"])) == len(customers)


@pytest.mark.slow
def test_training_week_scoped_to_its_buyers_gives_the_same_sample(spark, settings, simulated,
                                                                  tmp_path):
    from pyspark.sql import functions as F

    from hmspark.ingest import ingest
    from hmspark.pipeline import (collect_training, has_cutoff, prepare_cutoff, resolve_cutoff,
                                  target_buyers, training_cutoffs)
    from hmspark.provenance import SCOPE_ALL, SCOPE_BUYERS, Fingerprints
    from hmspark.tables import read_table

    wh = str(tmp_path / "wh")
    ingest(spark, str(simulated), wh, settings.ingest)
    transactions = read_table(spark, wh, "transactions")
    cutoff, _ = resolve_cutoff(transactions, "last-week")
    week = training_cutoffs(cutoff, 1)[0]
    key = ["cutoff", "customer_key", "article_id"]

    def sample(rebuild=True):
        [frame] = collect_training(spark, wh, transactions, [week], settings, rebuild=rebuild)
        return frame.sort_values(key).reset_index(drop=True)

    prints = Fingerprints(spark, wh, settings)
    assert not has_cutoff(spark, wh, week, SCOPE_BUYERS, prints)
    prepare_cutoff(spark, settings, wh, week)
    assert has_cutoff(spark, wh, week, SCOPE_ALL, prints)
    everyone = sample()
    all_customers = read_table(spark, wh, "candidates").filter(F.col("cutoff") == week) \
        .select("customer_key").distinct().count()

    buyers = target_buyers(transactions, week)
    prepare_cutoff(spark, settings, wh, week, scope=buyers)
    scoped = sample()
    assert not has_cutoff(spark, wh, week, SCOPE_ALL, prints)
    assert has_cutoff(spark, wh, week, SCOPE_BUYERS, prints)
    buyer_keys = {r[0] for r in buyers.collect()}
    cand_keys = {r[0] for r in read_table(spark, wh, "candidates")
                 .filter(F.col("cutoff") == week).select("customer_key").distinct().collect()}
    feat_keys = {r[0] for r in read_table(spark, wh, "features_customer")
                 .filter(F.col("cutoff") == week).select("customer_key").collect()}
    # Only the week's buyers got candidates and customer features, far fewer than everyone ...
    assert cand_keys <= buyer_keys and feat_keys == buyer_keys
    assert len(cand_keys) < all_customers / 2
    # ... and the training rows, features included, are exactly those of the unscoped build.
    assert len(scoped) == len(everyone) > 0 and scoped["label"].sum() > 0
    pd.testing.assert_frame_equal(scoped, everyone)
    # Sampled again without --rebuild, the week's rows are read back from table training_rows
    # (stored with the same fingerprint): the same frame, without a new write.
    from hmspark.pipeline import TRAINING_ROWS_TABLE
    from hmspark.tables import table_version

    version = table_version(spark, wh, TRAINING_ROWS_TABLE)
    pd.testing.assert_frame_equal(sample(rebuild=False), scoped)
    assert table_version(spark, wh, TRAINING_ROWS_TABLE) == version
    # Another sampling setting is another fingerprint: sampled anew.
    fewer = apply_override(settings, "train.negatives_per_week=5")
    [frame] = collect_training(spark, wh, transactions, [week], fewer)
    assert table_version(spark, wh, TRAINING_ROWS_TABLE) > version
    assert (frame["label"] == 0).sum() < (scoped["label"] == 0).sum()


def test_backtest_cutoff_after_the_data_is_a_clear_error(spark):
    import datetime as dt

    from hmspark.cutoff import CutoffError
    from hmspark.pipeline import resolve_cutoff

    tx = spark.createDataFrame([(dt.date(2020, 9, 1),), (dt.date(2020, 9, 22),)], "t_dat date")
    assert resolve_cutoff(tx, None) == (dt.date(2020, 9, 22), False)
    assert resolve_cutoff(tx, "last-week") == (dt.date(2020, 9, 15), True)
    assert resolve_cutoff(tx, "2020-09-20") == (dt.date(2020, 9, 20), True)   # 2 days to score
    with pytest.raises(CutoffError, match="after the last transaction date 2020-09-22"):
        resolve_cutoff(tx, "2030-01-01")
    with pytest.raises(CutoffError, match="transactions table is empty"):
        resolve_cutoff(spark.createDataFrame([], "t_dat date"), "last-week")
