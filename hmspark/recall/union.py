"""Union of the sources (``candidate_sources``) and the deduplicated, capped ``candidates``.

Priority (which candidates survive the cap, and the order of the recall report's cuts at 12/50/100):
a round robin over the sources in ``recall.source_priority`` order.  Each (source, rank) is a slot,
slot = (rank - 1) * number_of_sources + position of the source in the list (0-based); a candidate
proposed by several sources takes its smallest slot.  ``priority`` = 1, 2, ... per customer by slot
(then smaller article_id, which never decides since a slot belongs to one article).  With the
default order the first five slots are repurchase #1, pair #1, category #1, popular #1,
last_year #1, then the #2s, and so on; a source with fewer candidates simply leaves its slots empty.
"""

from __future__ import annotations

from functools import reduce
from typing import Iterable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from hmspark.config import RecallSettings
from hmspark.scope import only_customers
from hmspark.recall.common import (CATEGORY, LAST_YEAR, PAIR, POPULAR, REPURCHASE, SOURCE_COLUMNS,
                                   SOURCES as SOURCE_NAMES, source_order)

# Wide columns of ``candidates``: name -> (source, column of candidate_sources).  Null when that
# source did not propose the candidate.
WIDE_COLUMNS = {
    "pair_score_max": (PAIR, "score"),
    "pair_score_sum": (PAIR, "score2"),
    "pair_rank": (PAIR, "rank"),
    "repurchase_count": (REPURCHASE, "score"),
    "repurchase_days_since": (REPURCHASE, "score2"),
    "repurchase_rank": (REPURCHASE, "rank"),
    "popular_units": (POPULAR, "score"),
    "popular_rank": (POPULAR, "rank"),
    "last_year_units": (LAST_YEAR, "score"),
    "last_year_rank": (LAST_YEAR, "rank"),
    "category_units": (CATEGORY, "score"),
    "category_rank": (CATEGORY, "rank"),
}


def union_sources(sources: Iterable[DataFrame], customers: DataFrame) -> DataFrame:
    """All sources' rows, for the customers of ``customers`` only.

    Grain: one row per (customer_key, article_id, source); columns ``SOURCE_COLUMNS``.
    """
    frames = [s.select(*SOURCE_COLUMNS) for s in sources]
    return only_customers(reduce(DataFrame.unionByName, frames), customers) \
        .select(*SOURCE_COLUMNS)


def slot(cfg: RecallSettings) -> Column:
    """The round-robin slot of one candidate_sources row (smaller = kept first)."""
    order = source_order(cfg)
    position = F.lit(None).cast("int")
    for i, name in reversed(list(enumerate(order))):
        position = F.when(F.col("source") == F.lit(name), F.lit(i)).otherwise(position)
    return (F.col("rank") - F.lit(1)) * F.lit(len(order)) + position


def dedupe_candidates(candidate_sources: DataFrame, cfg: RecallSettings) -> DataFrame:
    """One row per (customer_key, article_id), at most ``max_candidates_per_customer`` per customer.

    Columns: customer_key, article_id, sources (sorted array of source names), the wide columns
    of ``WIDE_COLUMNS`` (int, null when the source did not propose it), priority (1.. per customer,
    see the module docstring).  Input: rows of ``candidate_sources`` for one cutoff (without the
    cutoff column, or with it: it is ignored).
    """
    # The set of sources as a bit mask: bit_or keeps the aggregation hash-based (collect_set would
    # make Spark fall back to a sort-based aggregation), then the mask becomes the sorted names.
    names = sorted(SOURCE_NAMES)
    bit = F.lit(0)
    for i, name in enumerate(names):
        bit = F.when(F.col("source") == F.lit(name), F.lit(1 << i)).otherwise(bit)
    aggs = [F.bit_or(bit).alias("_mask")]
    for name, (source, column) in WIDE_COLUMNS.items():
        aggs.append(F.max(F.when(F.col("source") == F.lit(source), F.col(column)))
                    .cast("int").alias(name))
    aggs.append(F.min(slot(cfg)).alias("_slot"))
    # Shuffled once, by customer: that partitioning serves the group-by on (customer, article)
    # and the per-customer window after it (grouping by both keys would shuffle twice).
    merged = (candidate_sources.repartition("customer_key")
              .groupBy("customer_key", "article_id").agg(*aggs))
    flags = [F.when((F.col("_mask").bitwiseAND(F.lit(1 << i))) != 0, F.lit(name))
             for i, name in enumerate(names)]
    merged = merged.withColumn("sources", F.filter(F.array(*flags), lambda x: x.isNotNull()))
    order = Window.partitionBy("customer_key").orderBy(F.col("_slot").asc(),
                                                       F.col("article_id").asc())
    return (merged.withColumn("priority", F.row_number().over(order))
            .filter(F.col("priority") <= F.lit(int(cfg.max_candidates_per_customer)))
            .select("customer_key", "article_id", "sources", *WIDE_COLUMNS, "priority"))
