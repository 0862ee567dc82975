"""Co-purchase pairs: "customers who bought A in the last week also bought B".

Tables (all as of a cutoff, read from ``t_dat <= cutoff`` only):

``basket``        one row per (customer_key, article_id) bought in a window of days ending on the
                  cutoff, for each customer only their ``pair_basket_cap`` most recent distinct
                  articles (last purchase date descending, then smaller article_id).
``pair_counts``   one row per ordered pair (article_a, article_b), a != b, with
                  pair_count = number of distinct customers whose pair-window basket holds both;
                  only pairs with pair_count >= pair_min_buyers; both directions present.
``top_pairs``     the pair_top_k rows of pair_counts per article_a (higher count, then smaller
                  article_b), with pair_rank 1..k.
``pair_source``   candidates: partners (top pairs) of the customer's recent items.
``pair_features`` for given (customer_key, article_id) rows: max and sum of pair_count over the
                  (untruncated) pairs linking the article to the customer's recent items; 0 when none.

Skew: the pair self-join is on customer_key over distinct (customer, article) rows, and every
customer's basket is capped, so one customer contributes at most cap * (cap - 1) / 2 pairs however
much they bought; bestsellers are not join keys there, only aggregation keys, which Spark
pre-aggregates per partition before the shuffle.  Articles bought by fewer than pair_min_buyers
customers are dropped before the join (they cannot reach the threshold).  Joins on article keys
(partners of recent items) broadcast the small pair tables, so the pair features cost recent items
x partners rows, not candidates x recent items.  See docs/recall.md.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from hmspark.config import RecallSettings
from hmspark.recall.common import PAIR, recent, source_frame


def basket(transactions: DataFrame, cutoff: str | dt.date, days: int, cap: int) -> DataFrame:
    """Distinct articles per customer in the last ``days`` days up to the cutoff, capped.

    Grain: one row per (customer_key, article_id); columns customer_key, article_id, last_dat
    (last purchase date), units.  When ``cap > 0`` only the customer's ``cap`` most recent distinct
    articles are kept (last_dat descending, then smaller article_id): the skew guard for customers
    with huge baskets.
    """
    rows = (recent(transactions, cutoff, days)
            .groupBy("customer_key", "article_id")
            .agg(F.max("t_dat").alias("last_dat"), F.count(F.lit(1)).alias("units")))
    if cap and cap > 0:
        order = Window.partitionBy("customer_key").orderBy(F.col("last_dat").desc(),
                                                           F.col("article_id").asc())
        rows = (rows.withColumn("_n", F.row_number().over(order))
                .filter(F.col("_n") <= F.lit(int(cap))).drop("_n"))
    return rows


def pair_counts(transactions: DataFrame, cutoff: str | dt.date, cfg: RecallSettings) -> DataFrame:
    """Co-purchase counts over the last ``pair_window_days`` days up to the cutoff.

    Grain: one row per ordered pair (article_a, article_b), article_a != article_b, both directions;
    pair_count = number of distinct customers whose (capped) basket in the window holds both
    articles.  Only pairs with pair_count >= pair_min_buyers are kept, so a pair bought together by
    a single customer never appears (with the default 2).
    """
    min_buyers = int(cfg.pair_min_buyers)
    items = basket(transactions, cutoff, cfg.pair_window_days, cfg.pair_basket_cap) \
        .select("customer_key", "article_id")
    if min_buyers > 1:
        # Exact pruning: pair_count(A, B) <= buyers(A), so articles with fewer buyers than the
        # threshold cannot be in a kept pair; dropping them shrinks the self-join.
        enough = (items.groupBy("article_id").agg(F.count(F.lit(1)).alias("_buyers"))
                  .filter(F.col("_buyers") >= F.lit(min_buyers)).select("article_id"))
        items = items.join(F.broadcast(enough), "article_id", "left_semi")
    left = items.select("customer_key", F.col("article_id").alias("article_a"))
    right = items.select("customer_key", F.col("article_id").alias("article_b"))
    # Each unordered pair once (a < b): half the rows of the join; mirrored after the count.
    half = (left.join(right, "customer_key")
            .filter(F.col("article_a") < F.col("article_b"))
            .groupBy("article_a", "article_b")
            .agg(F.count(F.lit(1)).cast("int").alias("pair_count"))
            .filter(F.col("pair_count") >= F.lit(min_buyers)))
    mirrored = half.select(F.col("article_b").alias("article_a"),
                           F.col("article_a").alias("article_b"), "pair_count")
    return half.unionByName(mirrored)


def top_pairs(pairs: DataFrame, k: int) -> DataFrame:
    """The ``k`` best partners of each article: pair_count descending, then smaller article_b.

    Grain: one row per (article_a, article_b) kept; columns article_a, article_b, pair_count,
    pair_rank (1..k within article_a).
    """
    order = Window.partitionBy("article_a").orderBy(F.col("pair_count").desc(),
                                                    F.col("article_b").asc())
    return (pairs.withColumn("pair_rank", F.row_number().over(order))
            .filter(F.col("pair_rank") <= F.lit(int(k))))


def recent_items(transactions: DataFrame, cutoff: str | dt.date, cfg: RecallSettings) -> DataFrame:
    """The customer's items that propose partners and define the pair features.

    Grain: one row per (customer_key, item): distinct articles bought in the last
    ``pair_customer_window_days`` days up to the cutoff, the ``pair_basket_cap`` most recent ones.
    """
    return (basket(transactions, cutoff, cfg.pair_customer_window_days, cfg.pair_basket_cap)
            .select("customer_key", F.col("article_id").alias("item")))


def pair_source(transactions: DataFrame, cutoff: str | dt.date, cfg: RecallSettings,
                pairs: DataFrame | None = None) -> DataFrame:
    """Source ``pair``: the top partners of each article the customer bought recently.

    Grain: one row per (customer_key, article_id) proposed.  score = max pair_count over the
    customer's recent items whose top-k partners include the article; score2 = the sum of those
    counts; rank by score, then score2 (both descending), then smaller article_id.  The partner may
    be an article the customer already bought.  ``pairs`` = :func:`pair_counts` when already computed.
    """
    pairs = pairs if pairs is not None else pair_counts(transactions, cutoff, cfg)
    top = F.broadcast(top_pairs(pairs, cfg.pair_top_k).select(
        F.col("article_a").alias("item"), F.col("article_b").alias("article_id"), "pair_count"))
    scored = (recent_items(transactions, cutoff, cfg).join(top, "item")
              .groupBy("customer_key", "article_id")
              .agg(F.max("pair_count").alias("score"), F.sum("pair_count").alias("score2")))
    order = Window.partitionBy("customer_key").orderBy(
        F.col("score").desc(), F.col("score2").desc(), F.col("article_id").asc())
    return source_frame(scored.withColumn("rank", F.row_number().over(order)),
                        PAIR, "score", "rank", "score2")


def pair_features(candidates: DataFrame, transactions: DataFrame, cutoff: str | dt.date,
                  cfg: RecallSettings, pairs: DataFrame | None = None) -> DataFrame:
    """Pair features of candidate rows, whatever source proposed them.

    ``candidates``: one row per (customer_key, article_id).  Returns the rows of those candidates
    that at least one pair of :func:`pair_counts` (the min-buyers rule applied, no top-k cut) links
    to one of the customer's :func:`recent_items`, with pair_count_max and pair_count_sum over
    those pairs.  A candidate without a row has no linking pair: both features are 0 (the
    assembly fills them), and at full scale ~5 of 6 candidates are such rows, so they are not
    written.
    """
    pairs = pairs if pairs is not None else pair_counts(transactions, cutoff, cfg)
    keys = candidates.select("customer_key", "article_id")
    # Each recent item meets its partners through the (small, broadcast) pair table: rows = recent
    # items x their partners, whatever the number of candidates; then one left join on the keys.
    linked = F.broadcast(pairs.select(F.col("article_a").alias("item"),
                                      F.col("article_b").alias("article_id"), "pair_count"))
    links = (recent_items(transactions, cutoff, cfg).join(linked, "item")
             .groupBy("customer_key", "article_id")
             .agg(F.max("pair_count").alias("pair_count_max"),
                  F.sum("pair_count").alias("pair_count_sum")))
    return (links.join(keys, ["customer_key", "article_id"], "left_semi")
            .select("customer_key", "article_id",
                    F.col("pair_count_max").cast("int").alias("pair_count_max"),
                    F.col("pair_count_sum").cast("int").alias("pair_count_sum")))
