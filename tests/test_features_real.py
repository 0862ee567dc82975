"""jobs/features.py on the real H&M rows (shared/data/hm-real-head: a single day of transactions),
ingested into a temporary warehouse; the tables checked against pandas on the same CSV files."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import pandas as pd
import pytest

from hmspark.features import build as B
from hmspark.features import read_features
from hmspark.ingest import ingest

ROOT = Path(__file__).resolve().parents[1]


def load_job():
    spec = importlib.util.spec_from_file_location("features_job", ROOT / "jobs" / "features.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def real_tx(real_head):
    tx = pd.read_csv(real_head / "transactions_train.csv", dtype={"article_id": int})
    return tx


def test_job_on_real_rows(spark, real_head, real_tx, tmp_path, caplog):
    wh = str(tmp_path / "warehouse")
    ingest(spark, str(real_head), wh)
    job = load_job()
    argv = ["--conf", str(ROOT / "conf" / "local.toml"), "--master", "local[2]",
            "--warehouse", wh,
            # keep the test session's own settings
            "--set", "spark.conf.spark.sql.shuffle.partitions=4", "--set", "spark.log_level=ERROR"]
    with caplog.at_level(logging.INFO, logger="hmspark"):
        assert job.main(argv) == 0
    # One "done" line per table, with its rows and seconds.
    done = [r.getMessage() for r in caplog.records if ": done " in r.getMessage()]
    for name in B.TABLES:
        lines = [m for m in done if m.startswith(f"features {name} ")]
        assert len(lines) == 1 and "rows=" in lines[0] and "seconds=" in lines[0], done

    # The default cutoff is the last date: the single day of the file.
    cutoff = pd.to_datetime(real_tx["t_dat"]).max().date()
    assert real_tx["t_dat"].nunique() == 1

    ca = read_features(spark, wh, B.CUSTOMER_ARTICLE, cutoff).toPandas()
    pairs = real_tx.groupby(["customer_id", "article_id"]).size()
    assert len(ca) == len(pairs)
    assert sorted(ca["units_all"]) == sorted(pairs.tolist())  # duplicates are units
    assert (ca["units_1w"] == ca["units_all"]).all() and (ca["units_ly"] == 0).all()
    assert (ca["days_since_last"] == 0).all()
    assert ca["decayed"].sum() == pytest.approx(len(real_tx))  # every unit weighs 1 on the cutoff

    art = read_features(spark, wh, B.ARTICLE, cutoff).toPandas().set_index("article_id")
    articles = pd.read_csv(real_head / "articles.csv", usecols=["article_id"])
    assert len(art) == len(articles)
    units = real_tx.groupby("article_id").size()
    pd.testing.assert_series_equal(art["units_all"].sort_index(),
                                   units.reindex(art.index, fill_value=0).sort_index(),
                                   check_names=False, check_dtype=False, check_index_type=False)
    assert (art["trend"] == art["units_1w"] + 1).all()  # nothing in the week before
    sold = art["units_all"] > 0
    assert (art.loc[sold, "days_since_release"] == 0).all()
    assert art.loc[~sold, "days_since_release"].isna().all()
    mean_price = real_tx.groupby("article_id")["price"].mean()
    pd.testing.assert_series_equal(art.loc[sold, "price_mean"].sort_index(),
                                   mean_price.sort_index(), check_names=False,
                                   check_index_type=False, rtol=1e-9)
    assert art.loc[sold, "price_last_first_ratio"].tolist() == pytest.approx([1.0] * sold.sum())

    cust = read_features(spark, wh, B.CUSTOMER, cutoff).toPandas()
    customers = pd.read_csv(real_head / "customers.csv", usecols=["customer_id"])
    n_customers = len(set(customers["customer_id"]) | set(real_tx["customer_id"]))
    assert len(cust) == n_customers
    buyers = cust[cust["units"] > 0]
    assert len(buyers) == real_tx["customer_id"].nunique()
    assert buyers["units"].sum() == len(real_tx)
    assert (buyers["active_weeks"] == 1).all() and (buyers["newness_days"] == 0).all()
    online = real_tx.assign(o=real_tx["sales_channel_id"] == 2).groupby("customer_id")["o"].mean()
    assert sorted(buyers["online_share"]) == pytest.approx(sorted(online.tolist()))
    idle = cust[cust["units"] == 0]
    assert (idle["active_weeks"] == 0).all() and idle["days_since_last"].isna().all()

    cc = read_features(spark, wh, B.CUSTOMER_CATEGORY, cutoff).toPandas()
    assert set(cc["level"]) == {"product_type_no", "department_no", "index_group_no"}
    per_level = cc.groupby("level")["units_all"].sum()
    assert (per_level == len(real_tx)).all()
