"""Building the candidate tables of one cutoff in the warehouse (what ``jobs/candidates.py`` runs).

Tables written, each partitioned by ``cutoff`` (a date); re-running a cutoff replaces only that
partition (Delta ``replaceWhere``), other cutoffs are untouched:

``candidate_sources``        one row per (cutoff, customer_key, article_id, source): score, score2,
                             rank (see ``hmspark.recall.common.SOURCE_COLUMNS``)
``candidates``               one row per (cutoff, customer_key, article_id): sources, wide score and
                             rank columns, priority; at most max_candidates_per_customer per customer
``candidate_pair_features``  one row per row of ``candidates`` that a co-purchase pair links to
                             the customer's recent items: pair_count_max, pair_count_sum (a
                             candidate without a row has 0 for both)
``recall_report``            one row per (cutoff, level), written by :func:`evaluate`
"""

from __future__ import annotations

import datetime as dt
import logging

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from hmspark.cli import step
from hmspark.config import RecallSettings, Settings
from hmspark.cutoff import TARGET_DAYS, YEAR_DAYS, as_date, last_date
from hmspark.recall.common import SOURCES, cutoff_literal, recent, source_order
from hmspark.recall.pairs import pair_counts, pair_features, pair_source
from hmspark.recall.report import recall_report
from hmspark.recall.sources import (category_source, last_year_source, popular_source,
                                    repurchase_source)
from hmspark.recall.union import dedupe_candidates, union_sources
from hmspark.scope import only_customers
from hmspark.tables import read_table, table_path, write_table

log = logging.getLogger("hmspark")

SOURCES_TABLE = "candidate_sources"
CANDIDATES_TABLE = "candidates"
PAIR_FEATURES_TABLE = "candidate_pair_features"
REPORT_TABLE = "recall_report"


class RecallError(ValueError):
    """A cutoff that cannot be evaluated (its target week is not in the data)."""


def _recall_cfg(cfg: RecallSettings | Settings | None) -> RecallSettings:
    if cfg is None:
        return RecallSettings()
    return cfg.recall if isinstance(cfg, Settings) else cfg


def lookback_days(cfg: RecallSettings) -> int:
    """How many days before (and including) the cutoff any source reads."""
    return max(YEAR_DAYS, cfg.pair_window_days, cfg.pair_customer_window_days,
               cfg.repurchase_window_days, cfg.popular_window_days, cfg.last_year_recent_days,
               cfg.category_window_days)


def cutoff_predicate(cutoff: str | dt.date) -> str:
    return f"cutoff = DATE'{as_date(cutoff).isoformat()}'"


def write_cutoff(df: DataFrame, warehouse: str, name: str, cutoff: str | dt.date) -> None:
    """Write one cutoff's rows into table ``name`` (partitioned by cutoff), replacing only them."""
    out = df.select(cutoff_literal(cutoff).alias("cutoff"), *[c for c in df.columns if c != "cutoff"])
    write_table(out, warehouse, name, partition_by=["cutoff"],
                replace_where=cutoff_predicate(cutoff))


def read_cutoff(spark: SparkSession, warehouse: str, name: str, cutoff: str | dt.date) -> DataFrame:
    """One cutoff's rows of a table written by :func:`write_cutoff`."""
    return read_table(spark, warehouse, name).filter(F.col("cutoff") == cutoff_literal(cutoff))


def written_rows(spark: SparkSession, warehouse: str, name: str) -> int:
    """Rows written by the table's last commit (Delta's operation metrics; no data is read)."""
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, table_path(warehouse, name)).history(1).collect()[0]
    return int((row["operationMetrics"] or {}).get("numOutputRows", 0))


def all_sources(transactions: DataFrame, articles: DataFrame, customers: DataFrame,
                cutoff: str | dt.date, cfg: RecallSettings,
                pairs: DataFrame | None = None,
                customer_history: DataFrame | None = None) -> list[DataFrame]:
    """Every source's rows as of the cutoff, in the configured priority order.

    ``customer_history``: the transactions of the customers of ``customers`` only (by default
    ``transactions``), read by the per-customer parts (repurchase, the customer's recent items and
    top categories); the global statistics (pairs, bestsellers) always read ``transactions``.
    """
    own = transactions if customer_history is None else customer_history
    if pairs is None:
        pairs = pair_counts(transactions, cutoff, cfg)
    by_name = {
        "pair": lambda: pair_source(own, cutoff, cfg, pairs),
        "repurchase": lambda: repurchase_source(own, cutoff, cfg),
        "popular": lambda: popular_source(transactions, customers, cutoff, cfg),
        "last_year": lambda: last_year_source(transactions, customers, cutoff, cfg),
        "category": lambda: category_source(transactions, articles, cutoff, cfg,
                                            customer_history=own),
    }
    assert set(by_name) == set(SOURCES)
    return [by_name[name]() for name in source_order(cfg)]


def build_candidates(spark: SparkSession, warehouse: str, cutoff: str | dt.date,
                     cfg: RecallSettings | Settings | None = None,
                     scope: DataFrame | None = None) -> dict:
    """Compute and write ``candidate_sources``, ``candidates`` and ``candidate_pair_features`` for
    one cutoff from the warehouse's ``transactions`` (only ``t_dat <= cutoff``), ``articles`` and
    ``customers``.  Every customer of ``customers`` gets candidates when the global sources have
    any.  Returns counts: rows per table, per source, customers with candidates.

    ``scope`` (a frame with ``customer_key``): only these customers get candidates, e.g. the buyers
    of a training week (the others' groups would have no positive).  The global statistics (pairs,
    bestsellers) still read every customer's history and the per-customer parts only the scope's,
    so a scoped customer's candidates are exactly the ones an unscoped run gives them.
    """
    cfg = _recall_cfg(cfg)
    cutoff = as_date(cutoff)
    source_order(cfg)  # fail early on a bad recall.source_priority
    counts: dict = {}
    transactions = read_table(spark, warehouse, "transactions")
    articles = read_table(spark, warehouse, "articles").select("article_id", "product_type_no")
    customers = read_table(spark, warehouse, "customers").select("customer_key")
    customers = only_customers(customers, scope)

    with step(f"history as of {cutoff}") as info:
        # The only slice of transactions any source reads (t_dat <= cutoff, within the longest
        # look-back), kept in memory because every source scans it.
        hist = (recent(transactions, cutoff, lookback_days(cfg))
                .select("t_dat", "customer_key", "article_id")
                .persist(StorageLevel.MEMORY_AND_DISK))
        info["rows"] = counts["history_rows"] = hist.count()
    # The per-customer parts of the sources read only the scope's own history.
    own = only_customers(hist, scope)
    pairs = None
    try:
        with step("pair counts") as info:
            pairs = pair_counts(hist, cutoff, cfg).persist(StorageLevel.MEMORY_AND_DISK)
            info["rows"] = counts["pairs"] = pairs.count()

        with step(SOURCES_TABLE) as info:
            union = union_sources(all_sources(hist, articles, customers, cutoff, cfg, pairs,
                                              customer_history=own), customers)
            write_cutoff(union, warehouse, SOURCES_TABLE, cutoff)
            # Rows per source: a scan and a tiny aggregation (no distinct customers here).
            written = read_cutoff(spark, warehouse, SOURCES_TABLE, cutoff)
            per_source = {r["source"]: int(r["count"])
                          for r in written.groupBy("source").count().collect()}
            for name in SOURCES:
                counts[f"source_{name}"] = per_source.get(name, 0)
            info["rows"] = counts[SOURCES_TABLE] = sum(per_source.values())
            info.update({name: counts[f"source_{name}"] for name in SOURCES})

        with step(CANDIDATES_TABLE) as info:
            cands = dedupe_candidates(read_cutoff(spark, warehouse, SOURCES_TABLE, cutoff), cfg)
            write_cutoff(cands, warehouse, CANDIDATES_TABLE, cutoff)
            info["rows"] = counts[CANDIDATES_TABLE] = written_rows(spark, warehouse,
                                                                   CANDIDATES_TABLE)
            # Every customer with candidates has exactly one row of priority 1: the customers
            # without a distinct count.
            info["customers"] = counts["customers"] = read_cutoff(
                spark, warehouse, CANDIDATES_TABLE, cutoff).filter(F.col("priority") == 1).count()

        with step(PAIR_FEATURES_TABLE) as info:
            cand_keys = read_cutoff(spark, warehouse, CANDIDATES_TABLE, cutoff) \
                .select("customer_key", "article_id")
            write_cutoff(pair_features(cand_keys, own, cutoff, cfg, pairs), warehouse,
                         PAIR_FEATURES_TABLE, cutoff)
            info["rows"] = counts[PAIR_FEATURES_TABLE] = written_rows(spark, warehouse,
                                                                      PAIR_FEATURES_TABLE)
    finally:
        hist.unpersist()
        if pairs is not None:
            pairs.unpersist()
    return counts


def check_target_known(transactions: DataFrame, cutoff: str | dt.date) -> None:
    """Raise RecallError unless the data covers the whole target week of the cutoff."""
    cutoff = as_date(cutoff)
    end = cutoff + dt.timedelta(days=TARGET_DAYS)
    last = last_date(transactions)
    if last < end:
        raise RecallError(f"cannot evaluate cutoff {cutoff}: its target week {cutoff} < t_dat <= "
                          f"{end} is not fully in the data (last transaction date {last})")


def evaluate(spark: SparkSession, warehouse: str, cutoff: str | dt.date,
             cfg: RecallSettings | Settings | None = None) -> list:
    """Write the recall report of a cutoff (its candidate tables must exist) into ``recall_report``
    (replacing that cutoff's rows) and return its rows in level order."""
    cfg = _recall_cfg(cfg)
    cutoff = as_date(cutoff)
    transactions = read_table(spark, warehouse, "transactions")
    check_target_known(transactions, cutoff)
    with step(REPORT_TABLE) as info:
        report = recall_report(read_cutoff(spark, warehouse, SOURCES_TABLE, cutoff),
                               read_cutoff(spark, warehouse, CANDIDATES_TABLE, cutoff),
                               transactions, cutoff, tuple(cfg.report_cuts))
        write_cutoff(report, warehouse, REPORT_TABLE, cutoff)
        rows = read_cutoff(spark, warehouse, REPORT_TABLE, cutoff).orderBy("level_order").collect()
        info["rows"] = len(rows)
    return rows
