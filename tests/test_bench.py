"""The benchmark's smoke test (CI runs only the tiny preset): a real pipeline backtest under
spark-submit, its steps parsed from the log and its memory sampled from the OS."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_bench_tiny_preset(tmp_path):
    work = tmp_path / "work"
    done = subprocess.run(
        [sys.executable, "-m", "hmspark.bench", "--presets", "tiny", "--data", str(tmp_path / "data"),
         "--work", str(work), "--seed", "5", "--master", "local[2]",
         "--set", "train.train_weeks=2", "--set", "train.num_boost_round=30",
         "--set", "train.threads=1", "--set", "spark.conf.spark.sql.shuffle.partitions=4",
         "--set", "spark.conf.spark.ui.enabled=false", "--set", "spark.conf.spark.driver.memory=2g"],
        cwd=ROOT, capture_output=True, text=True, timeout=2700)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with open(work / "bench.csv") as fh:
        rows = list(csv.DictReader(fh))
    steps = [r["step"] for r in rows]
    # Ingest, then the two training cutoffs and the prediction cutoff, then train/score/evaluate.
    assert steps[0] == "ingest" and steps[-4:] == ["train", "score", "evaluate", "insights"]
    assert sum(s.startswith("candidates ") for s in steps) == 3
    assert sum(s.startswith("features ") for s in steps) == 3
    ingest = rows[0]
    tx = sum(1 for _ in open(tmp_path / "data" / "tiny" / "transactions_train.csv")) - 1
    articles = sum(1 for _ in open(tmp_path / "data" / "tiny" / "articles.csv")) - 1
    customers = sum(1 for _ in open(tmp_path / "data" / "tiny" / "customers.csv")) - 1
    assert int(ingest["rows"]) == tx + articles + customers   # nothing quarantined in simulated data
    score = next(r for r in rows if r["step"] == "score")
    assert int(score["rows"]) == 12 * customers
    for r in rows:
        assert float(r["seconds"]) > 0
        assert float(r["peak_jvm_gib"]) > 0.1      # a JVM was running and measured
    with open(work / "bench_summary.csv") as fh:
        (summary,) = list(csv.DictReader(fh))
    assert summary["exit_code"] == "0" and int(summary["transactions"]) == tx
    assert float(summary["map_at_12"]) > 0
    assert float(summary["weekly_seconds"]) > 0 and float(summary["ingest_seconds"]) > 0
    # The main job ends with the insights report.
    assert "<img" in (work / "tiny" / "output" / "report.html").read_text()
    md = (work / "bench.md").read_text()
    assert "## Totals" in md and "| tiny |" in md
    # A second call with --reuse takes the saved run instead of running the pipeline again.
    (work / "bench.csv").unlink()
    again = subprocess.run(
        [sys.executable, "-m", "hmspark.bench", "--presets", "tiny", "--data", str(tmp_path / "data"),
         "--work", str(work), "--reuse"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "reusing" in again.stdout, again.stdout + again.stderr
    with open(work / "bench.csv") as fh:
        assert list(csv.DictReader(fh)) == rows
