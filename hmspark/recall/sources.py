"""The candidate sources besides co-purchase pairs (``hmspark.recall.pairs``).

Each returns the common shape ``SOURCE_COLUMNS`` (customer_key, article_id, source, score, score2,
rank): one row per (customer_key, article_id) the source proposes, as of the cutoff (only
``t_dat <= cutoff`` is read; a transaction row is one unit, duplicate rows are several units).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from hmspark.config import RecallSettings
from hmspark.cutoff import TARGET_DAYS, YEAR_DAYS
from hmspark.recall.common import (CATEGORY, LAST_YEAR, POPULAR, REPURCHASE, days_ago, recent,
                                   source_frame, top_n_global)


def repurchase_source(transactions: DataFrame, cutoff: str | dt.date,
                      cfg: RecallSettings) -> DataFrame:
    """Source ``repurchase``: the customer's own articles of the last ``repurchase_window_days``.

    Grain: one row per (customer_key, article_id) bought in the window.  score = units bought in
    the window; score2 = days since the last purchase (0 = on the cutoff day); rank by recency
    (fewest days first), then units (most first), then smaller article_id.
    """
    rows = (recent(transactions, cutoff, cfg.repurchase_window_days)
            .groupBy("customer_key", "article_id")
            .agg(F.count(F.lit(1)).alias("units"), F.min("days_before").alias("days_since")))
    order = Window.partitionBy("customer_key").orderBy(
        F.col("days_since").asc(), F.col("units").desc(), F.col("article_id").asc())
    return source_frame(rows.withColumn("rank", F.row_number().over(order)),
                        REPURCHASE, "units", "rank", "days_since")


def article_units(transactions: DataFrame) -> DataFrame:
    """Units per article of the given transactions: one row per article_id, column units."""
    return transactions.groupBy("article_id").agg(F.count(F.lit(1)).alias("units"))


def popular_articles(transactions: DataFrame, cutoff: str | dt.date,
                     cfg: RecallSettings) -> DataFrame:
    """The ``popular_top_n`` articles with the most units in the last ``popular_window_days``
    (ties: smaller article_id).  Grain: one row per article; columns article_id, units, rank."""
    return top_n_global(article_units(recent(transactions, cutoff, cfg.popular_window_days)),
                        cfg.popular_top_n)


def last_year_articles(transactions: DataFrame, cutoff: str | dt.date,
                       cfg: RecallSettings) -> DataFrame:
    """Bestsellers of the target week one year (364 days) earlier.

    The target week is ``cutoff < t_dat <= cutoff + 7``; shifted back 364 days it is
    ``cutoff - 364 < t_dat <= cutoff - 357`` (days_before 357..363).  Only articles that also sold
    in the last ``last_year_recent_days`` count (still on sale); the ``last_year_top_n`` with the
    most units then (ties: smaller article_id).  Grain: one row per article; article_id, units, rank.
    """
    then = days_ago(transactions, cutoff, YEAR_DAYS - TARGET_DAYS, YEAR_DAYS - 1)
    still_sold = recent(transactions, cutoff, cfg.last_year_recent_days).select("article_id").distinct()
    units = article_units(then).join(F.broadcast(still_sold), "article_id", "left_semi")
    return top_n_global(units, cfg.last_year_top_n)


def _for_everyone(customers: DataFrame, articles: DataFrame, source: str) -> DataFrame:
    """Every customer of ``customers`` times the few rows of a global article list."""
    rows = customers.select("customer_key").distinct().crossJoin(F.broadcast(articles))
    return source_frame(rows, source, "units", "rank")


def popular_source(transactions: DataFrame, customers: DataFrame, cutoff: str | dt.date,
                   cfg: RecallSettings) -> DataFrame:
    """Source ``popular``: :func:`popular_articles` for every customer of ``customers`` (also the
    cold-start fill).  score = units in the window; rank = the article's global rank."""
    return _for_everyone(customers, popular_articles(transactions, cutoff, cfg), POPULAR)


def last_year_source(transactions: DataFrame, customers: DataFrame, cutoff: str | dt.date,
                     cfg: RecallSettings) -> DataFrame:
    """Source ``last_year``: :func:`last_year_articles` for every customer of ``customers``.
    score = units in the week one year earlier; rank = the article's global rank.  Empty when the
    history does not reach back a year."""
    return _for_everyone(customers, last_year_articles(transactions, cutoff, cfg), LAST_YEAR)


def customer_categories(transactions: DataFrame, articles: DataFrame, cutoff: str | dt.date,
                        cfg: RecallSettings) -> DataFrame:
    """Each customer's most bought product types of the last ``category_window_days``.

    Grain: one row per (customer_key, product_type_no) kept; units = units bought in the window,
    days_since = days since the last purchase in that type, category_rank 1..
    ``category_top_categories`` by units (most first), then recency (most recent first), then
    smaller product_type_no.  Transactions of articles missing from ``articles`` are ignored.
    """
    types = F.broadcast(articles.select("article_id", "product_type_no"))
    rows = (recent(transactions, cutoff, cfg.category_window_days).join(types, "article_id")
            .groupBy("customer_key", "product_type_no")
            .agg(F.count(F.lit(1)).alias("units"), F.min("days_before").alias("days_since")))
    order = Window.partitionBy("customer_key").orderBy(
        F.col("units").desc(), F.col("days_since").asc(), F.col("product_type_no").asc())
    return (rows.withColumn("category_rank", F.row_number().over(order))
            .filter(F.col("category_rank") <= F.lit(int(cfg.category_top_categories))))


def category_bestsellers(transactions: DataFrame, articles: DataFrame, cutoff: str | dt.date,
                         cfg: RecallSettings) -> DataFrame:
    """The ``category_top_n`` articles with the most units in the last ``popular_window_days``
    within each product type (ties: smaller article_id).

    Grain: one row per article kept; product_type_no, article_id, units, item_rank (1.. per type).
    """
    types = F.broadcast(articles.select("article_id", "product_type_no"))
    units = article_units(recent(transactions, cutoff, cfg.popular_window_days)).join(types, "article_id")
    order = Window.partitionBy("product_type_no").orderBy(F.col("units").desc(),
                                                          F.col("article_id").asc())
    return (units.withColumn("item_rank", F.row_number().over(order))
            .filter(F.col("item_rank") <= F.lit(int(cfg.category_top_n))))


def category_source(transactions: DataFrame, articles: DataFrame, cutoff: str | dt.date,
                    cfg: RecallSettings, customer_history: DataFrame | None = None) -> DataFrame:
    """Source ``category``: last week's bestsellers within each of the customer's top product types.

    Grain: one row per (customer_key, article_id).  score = the article's units in the last
    ``popular_window_days``; rank by the customer's category rank, then the article's rank within
    the category.  A customer whose top types sold nothing last week gets fewer (or no) rows.

    ``customer_history``: the transactions of only the customers who need candidates (by default
    ``transactions``); the bestsellers always come from ``transactions``, everyone's.
    """
    own = transactions if customer_history is None else customer_history
    best = F.broadcast(category_bestsellers(transactions, articles, cutoff, cfg))
    rows = customer_categories(own, articles, cutoff, cfg).select(
        "customer_key", "product_type_no", "category_rank").join(best, "product_type_no")
    order = Window.partitionBy("customer_key").orderBy(
        F.col("category_rank").asc(), F.col("item_rank").asc())
    return source_frame(rows.withColumn("rank", F.row_number().over(order)),
                        CATEGORY, "units", "rank")
