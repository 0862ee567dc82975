"""Shared pieces of candidate generation: source names, the source output shape, time windows.

Every function here and in the other ``hmspark.recall`` modules works *as of a cutoff*: it first
restricts the transactions to ``t_dat <= cutoff`` with :func:`hmspark.cutoff.history`, whatever it is
given, so nothing after the cutoff can reach a candidate.  "The last N days" are the N days ending
on the cutoff, cutoff included: ``days_before < N`` (``cutoff - N < t_dat <= cutoff``).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from hmspark.config import ConfigError, RecallSettings
from hmspark.cutoff import as_date, history

# Source names as they appear in candidate_sources.source and candidates.sources.
PAIR = "pair"
REPURCHASE = "repurchase"
POPULAR = "popular"
LAST_YEAR = "last_year"
CATEGORY = "category"
SOURCES = (PAIR, REPURCHASE, POPULAR, LAST_YEAR, CATEGORY)

# What every source returns: one row per (customer_key, article_id) it proposes.
#   score  the source's main number (see each source)
#   score2 a second number some sources keep (pair: sum of pair counts; repurchase: days since
#          the last purchase); null for the others
#   rank   1, 2, ... within the customer for this source (unique: ties are broken by article_id)
SOURCE_COLUMNS = ("customer_key", "article_id", "source", "score", "score2", "rank")


def recent(transactions: DataFrame, cutoff: str | dt.date, days: int) -> DataFrame:
    """Transactions of the last ``days`` days up to the cutoff (``cutoff - days < t_dat <= cutoff``),
    one row per unit, with ``days_before`` (0 on the cutoff day)."""
    return history(transactions, cutoff).filter(F.col("days_before") < F.lit(int(days)))


def days_ago(transactions: DataFrame, cutoff: str | dt.date, first: int, last: int) -> DataFrame:
    """Transactions with ``first <= days_before <= last`` (both before or on the cutoff)."""
    return history(transactions, cutoff).filter(
        (F.col("days_before") >= F.lit(int(first))) & (F.col("days_before") <= F.lit(int(last))))


def source_frame(df: DataFrame, source: str, score: Column | str, rank: Column | str,
                 score2: Column | str | None = None) -> DataFrame:
    """Project a source's result to the common shape ``SOURCE_COLUMNS`` with fixed types."""
    def col(c):
        return F.col(c) if isinstance(c, str) else c

    return df.select(
        F.col("customer_key").cast("int").alias("customer_key"),
        F.col("article_id").cast("int").alias("article_id"),
        F.lit(source).alias("source"),
        col(score).cast("double").alias("score"),
        (col(score2) if score2 is not None else F.lit(None)).cast("double").alias("score2"),
        col(rank).cast("int").alias("rank"),
    )


def top_n_global(counts: DataFrame, n: int, value: str = "units") -> DataFrame:
    """The ``n`` rows of a per-article table with the highest ``value`` (ties: smaller article_id),
    with ``rank`` 1..n.  Tiny output; the ranking runs on the ``n`` rows kept only."""
    order = [F.col(value).desc(), F.col("article_id").asc()]
    top = counts.orderBy(*order).limit(max(int(n), 0))
    return top.withColumn("rank", F.row_number().over(Window.partitionBy(F.lit(0)).orderBy(*order)))


def source_order(cfg: RecallSettings) -> list[str]:
    """The sources in the configured priority order (``recall.source_priority``); each source once."""
    names = [s.strip() for s in cfg.source_priority.split(",") if s.strip()]
    if sorted(names) != sorted(SOURCES):
        raise ConfigError(f"recall.source_priority = '{cfg.source_priority}' must name each of "
                          f"{', '.join(SOURCES)} exactly once")
    return names


def cutoff_literal(cutoff: str | dt.date) -> Column:
    return F.lit(as_date(cutoff)).cast("date")
