"""jobs/candidates.py end to end on the real H&M rows (a single day of history)."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from hmspark.ingest import ingest
from hmspark.tables import read_table, table_exists

JOB = Path(__file__).resolve().parents[1] / "jobs" / "candidates.py"


@pytest.fixture(scope="module")
def job():
    spec = importlib.util.spec_from_file_location("candidates_job", JOB)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def conf(tmp_path) -> str:
    """A conf file that keeps the shared test session's settings (few partitions, quiet)."""
    path = tmp_path / "test.toml"
    path.write_text('[spark]\nlog_level = "ERROR"\n\n[spark.conf]\n'
                    '"spark.sql.shuffle.partitions" = "4"\n'
                    '"spark.sql.adaptive.coalescePartitions.initialPartitionNum" = "4"\n')
    return str(path)


def test_job_on_a_single_day_of_real_rows(spark, real_head, tmp_path, job, conf, caplog, capsys):
    wh = str(tmp_path / "warehouse")
    ingest(spark, str(real_head), wh)
    tx = read_table(spark, wh, "transactions")
    (day,) = [r[0] for r in tx.select("t_dat").distinct().collect()]
    base = ["--conf", conf, "--warehouse", wh]

    # The next week is not in the data: --evaluate refuses before building anything.
    caplog.set_level(logging.INFO, logger="hmspark")
    assert job.main(base + ["--evaluate"]) == 2
    assert "not fully in the data" in caplog.text
    assert not table_exists(spark, wh, "candidates")

    # The default cutoff is the last (only) date.
    assert job.main(base) == 0
    for name in ("candidate_sources", "candidates", "candidate_pair_features"):
        assert f"{name}: done rows=" in caplog.text
    assert "seconds=" in caplog.text
    printed = capsys.readouterr().out
    assert "candidates=" in printed

    cands = read_table(spark, wh, "candidates")
    assert {r[0] for r in cands.select("cutoff").distinct().collect()} == {day}
    customers = read_table(spark, wh, "customers").select("customer_key")
    stats = cands.groupBy("customer_key").agg(F.count(F.lit(1)).alias("n"),
                                             F.max("priority").alias("p")).toPandas()
    # Every customer gets candidates (popular covers those who bought nothing) ...
    assert len(stats) == customers.count()
    assert stats["n"].min() >= 12 and stats["n"].max() <= 100
    assert (stats["n"] == stats["p"]).all()
    # ... and those who bought that day also get their own articles and pair partners.
    buyers = {r[0] for r in tx.select("customer_key").distinct().collect()}
    sources = read_table(spark, wh, "candidate_sources")
    per_source = {r["source"]: r["count"] for r in sources.groupBy("source").count().collect()}
    assert per_source["popular"] == 12 * len(stats)
    assert per_source["repurchase"] == tx.select("customer_key", "article_id").distinct().count()
    assert per_source.get("pair", 0) > 0 and per_source.get("category", 0) > 0
    assert "last_year" not in per_source                 # no history a year back
    repurchasers = {r[0] for r in sources.filter("source = 'repurchase'")
                    .select("customer_key").distinct().collect()}
    assert repurchasers == buyers & {r[0] for r in customers.collect()}
    feats = read_table(spark, wh, "candidate_pair_features")
    # Rows only for candidates a pair links to: a subset of the candidates, all with a count.
    assert 0 < feats.count() < cands.count()
    assert feats.join(cands, ["cutoff", "customer_key", "article_id"], "left_anti").count() == 0
    assert feats.filter("pair_count_max < 2 or pair_count_sum < pair_count_max").count() == 0
