"""Write the four feature tables of one cutoff into the warehouse (``jobs/features.py`` and the
pipeline call :func:`build_features`).

Each table is partitioned by ``cutoff``; writing a cutoff replaces only that cutoff's partition
(Delta ``replaceWhere``), so re-running a cutoff is idempotent and leaves the other cutoffs alone.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from hmspark.cli import step
from hmspark.config import FeatureSettings
from hmspark.cutoff import as_date, last_date
from hmspark.features import compute as C
from hmspark.scope import only_customers
from hmspark.tables import read_table, table_path, write_table

log = logging.getLogger("hmspark.features")

CUSTOMER_ARTICLE = "features_customer_article"
CUSTOMER_CATEGORY = "features_customer_category"
CUSTOMER = "features_customer"
ARTICLE = "features_article"
TABLES = (CUSTOMER_ARTICLE, CUSTOMER_CATEGORY, ARTICLE, CUSTOMER)


def cutoff_predicate(cutoff: str | dt.date) -> str:
    """The SQL predicate selecting one cutoff's partition (used for replaceWhere)."""
    return f"cutoff = DATE'{as_date(cutoff).isoformat()}'"


def read_features(spark: SparkSession, warehouse: str | Path, name: str,
                  cutoff: str | dt.date) -> DataFrame:
    """One cutoff's partition of a feature table."""
    return read_table(spark, warehouse, name).filter(F.col("cutoff") == F.lit(as_date(cutoff)))


def _rows_written(spark: SparkSession, warehouse: str | Path, name: str,
                  cutoff: dt.date) -> int:
    """Rows of the cutoff's partition just written: from the Delta commit's metrics when the
    latest commit is this write (no scan), else by counting the partition."""
    from delta.tables import DeltaTable

    last = DeltaTable.forPath(spark, table_path(warehouse, name)).history(1).collect()[0]
    params = last["operationParameters"] or {}
    metrics = last["operationMetrics"] or {}
    if params.get("predicate", "").strip("[]\"") == cutoff_predicate(cutoff) \
            and "numOutputRows" in metrics:
        return int(metrics["numOutputRows"])
    return read_features(spark, warehouse, name, cutoff).count()


def _write(spark: SparkSession, df: DataFrame, warehouse: str | Path, name: str,
           cutoff: dt.date, counts: dict[str, int], files: int | None = None) -> None:
    """Write one cutoff's partition of ``name`` (one log line with its rows and seconds)."""
    with step(f"features {name} {cutoff}") as info:
        if files:
            df = df.coalesce(files)
        write_table(df, warehouse, name, partition_by=["cutoff"],
                    replace_where=cutoff_predicate(cutoff))
        info["rows"] = counts[name] = _rows_written(spark, warehouse, name, cutoff)


def build_features(spark: SparkSession, warehouse: str | Path, cutoff: str | dt.date | None = None,
                   cfg: FeatureSettings | None = None,
                   scope: DataFrame | None = None,
                   article_history: C.ArticleHistory | None = None) -> dict[str, int]:
    """Compute and write the feature tables as of ``cutoff`` (default: the last transaction date).

    Reads ``transactions``, ``articles`` and ``customers``; returns {table name: rows written}.
    Order: customer x article first and the customer x category table derived from it; the
    customer table takes the first sale dates from the article table.  The (scoped) history, the
    customer x article table and the article table are kept in memory meanwhile.

    ``scope`` (a frame with ``customer_key``): the customer x article, customer x category and
    customer tables hold only these customers (e.g. the buyers of a training week); their rows are
    the same as in an unscoped run.  The article table always reads every customer's history.

    ``article_history``: the per-article daily aggregates (:func:`hmspark.features.compute.
    article_history`) up to this cutoff or later, when a run computes them once for several
    cutoffs; by default they are computed from this cutoff's history.
    """
    cfg = cfg or FeatureSettings()
    transactions = read_table(spark, warehouse, "transactions")
    articles = read_table(spark, warehouse, "articles")
    customers = read_table(spark, warehouse, "customers")
    cutoff = as_date(cutoff) if cutoff is not None else last_date(transactions)
    log.info("features as of %s (history: t_dat <= %s)", cutoff, cutoff)

    keep = StorageLevel.MEMORY_AND_DISK
    hist = (transactions.filter(F.col("t_dat") <= F.lit(cutoff))
            .select("t_dat", "customer_key", "article_id", "price", "sales_channel_id"))
    counts: dict[str, int] = {}
    scoped_hist, scoped_customers = only_customers(hist, scope), only_customers(customers, scope)
    # Kept in memory: the customer x article and customer tables both read it.  The whole
    # history is read once more only when the article table is computed from it.
    scoped_hist = scoped_hist.persist(keep)
    cached = [scoped_hist]
    try:
        ca = C.customer_article_features(scoped_hist, cutoff, cfg.decay_half_life_days).persist(keep)
        cached.append(ca)
        _write(spark, ca, warehouse, CUSTOMER_ARTICLE, cutoff, counts)
        _write(spark, C.customer_category_features(ca, articles),
               warehouse, CUSTOMER_CATEGORY, cutoff, counts)
        art = C.article_features(article_history if article_history is not None else hist,
                                 articles, customers, cutoff).persist(keep)
        cached.append(art)
        _write(spark, art, warehouse, ARTICLE, cutoff, counts, files=1)
        first_sale = art.filter(F.col("first_sale").isNotNull()).select("article_id", "first_sale")
        _write(spark, C.customer_features(scoped_hist, scoped_customers, cutoff,
                                          first_sale=first_sale),
               warehouse, CUSTOMER, cutoff, counts)
    finally:
        for df in cached:
            df.unpersist()
    return counts
