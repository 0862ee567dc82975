"""One local-mode SparkSession with Delta for the whole pytest session (2 cores, few partitions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmspark.config import load_settings

REAL_HEAD = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "hm-real-head"

TEST_OVERRIDES = [
    "spark.master=local[2]",
    "spark.app_name=hmspark-tests",
    "spark.log_level=ERROR",
    "spark.conf.spark.ui.enabled=false",
    "spark.conf.spark.ui.showConsoleProgress=false",
    "spark.conf.spark.sql.shuffle.partitions=4",
    "spark.conf.spark.default.parallelism=4",
    "spark.conf.spark.databricks.delta.snapshotPartitions=2",
    "spark.conf.spark.sql.adaptive.coalescePartitions.initialPartitionNum=4",
    "spark.conf.spark.driver.memory=4g",
]


@pytest.fixture(scope="session")
def settings():
    return load_settings(None, TEST_OVERRIDES)


@pytest.fixture(scope="session")
def spark(settings):
    from hmspark.session import build_session

    session = build_session(settings)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def real_head() -> Path:
    if not REAL_HEAD.is_dir():
        pytest.skip(f"real H&M rows not found at {REAL_HEAD} (the shared/ folder beside the checkout)")
    return REAL_HEAD


@pytest.fixture
def warehouse(tmp_path) -> str:
    return str(tmp_path / "warehouse")
