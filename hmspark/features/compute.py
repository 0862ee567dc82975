"""The feature tables as pure functions over DataFrames, each as of a cutoff.

Every function takes the transactions (any superset is fine: it keeps ``t_dat <= cutoff`` itself
through :func:`hmspark.cutoff.history`, so nothing after the cutoff can reach a feature) and returns
one table whose first column is ``cutoff``.  Units are transaction rows: a duplicate row is one more
unit bought.  ``days_before`` is 0 on the cutoff day (see ``hmspark.cutoff``).

Windows, on ``days_before``:

- ``units_1w``  days_before < 7     (the last week, cutoff - 7 < t_dat <= cutoff)
- ``units_4w``  days_before < 28
- ``units_12w`` days_before < 84
- ``units_ly``  357 <= days_before <= 363: the target week one year (364 days) earlier,
  cutoff - 364 < t_dat <= cutoff - 357
- ``units_all`` every unit up to the cutoff
- ``decayed``   sum over units of exp(-ln 2 * days_before / half_life)
- ``days_since_last`` smallest days_before (0 = bought on the cutoff day)

The definitions of every column are in ``docs/features.md``.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from hmspark.cutoff import TARGET_DAYS, YEAR_DAYS, as_date, history

# Category levels of the customer x category table: articles column -> short name used in the
# assembled feature names (cc_<short>_...).  Colour was a fourth level until its features showed
# ~0.7% of the gain at full scale for ~25% of the table's rows (docs/scale.md).
LEVELS: dict[str, str] = {
    "product_type_no": "ptype",
    "department_no": "dept",
    "index_group_no": "igroup",
}

# The window columns shared by the customer x article and customer x category tables, in order.
WINDOW_COLUMNS = ("units_1w", "units_4w", "units_12w", "units_ly", "units_all", "decayed",
                  "days_since_last")
# The additive ones (a sum over units), which roll up from articles to categories by summing.
ADDITIVE_COLUMNS = WINDOW_COLUMNS[:-1]

WEEK_DAYS = 7
LAST_YEAR_FIRST = YEAR_DAYS - TARGET_DAYS  # 357: days_before of the last day of last year's week
LAST_YEAR_LAST = YEAR_DAYS - 1             # 363: days_before of its first day


def cutoff_column(cutoff: str | dt.date) -> Column:
    return F.lit(as_date(cutoff)).cast("date").alias("cutoff")


def _units_if(condition: Column) -> Column:
    return F.count_if(condition).cast("int")


def _days_before() -> Column:
    return F.col("days_before")


def window_aggregations(half_life_days: float) -> list[Column]:
    """Aggregations over history rows (with ``days_before``) giving ``WINDOW_COLUMNS``."""
    if not half_life_days > 0:
        raise ValueError(f"features.decay_half_life_days must be > 0, not {half_life_days}")
    db = _days_before()
    rate = math.log(2.0) / float(half_life_days)
    return [
        _units_if(db < 1 * WEEK_DAYS).alias("units_1w"),
        _units_if(db < 4 * WEEK_DAYS).alias("units_4w"),
        _units_if(db < 12 * WEEK_DAYS).alias("units_12w"),
        _units_if((db >= LAST_YEAR_FIRST) & (db <= LAST_YEAR_LAST)).alias("units_ly"),
        F.count(F.lit(1)).cast("int").alias("units_all"),
        F.sum(F.exp(F.lit(-rate) * db.cast("double"))).alias("decayed"),
        F.min(db).cast("int").alias("days_since_last"),
    ]


def customer_article_features(transactions: DataFrame, cutoff: str | dt.date,
                              half_life_days: float) -> DataFrame:
    """``features_customer_article``: grain (cutoff, customer_key, article_id), as of ``cutoff``.

    One row per pair bought at least once on or before the cutoff (no row = never bought), with
    ``WINDOW_COLUMNS``.  Never materialises pairs that were not bought: a plain group-by of history.
    """
    return (history(transactions, cutoff)
            .groupBy("customer_key", "article_id")
            .agg(*window_aggregations(half_life_days))
            .select(cutoff_column(cutoff), "customer_key", "article_id", *WINDOW_COLUMNS))


def customer_category_features(customer_article: DataFrame, articles: DataFrame) -> DataFrame:
    """``features_customer_category``: grain (cutoff, customer_key, level, category), a long table.

    ``level`` is one of the ``LEVELS`` keys (an articles column name) and ``category`` that
    column's value; one row per category the customer bought from on or before the cutoff, with the
    same ``WINDOW_COLUMNS`` as the customer x article table.  Computed from the customer x article
    table of the same cutoff (its additive columns sum up, ``days_since_last`` is the minimum), which
    is exact and much smaller than re-reading the transactions; the article table is broadcast.
    Articles whose category value is null do not contribute to that level.
    """
    levels = [F.struct(F.lit(col).alias("level"), F.col(col).cast("int").alias("category"))
              for col in LEVELS]
    arts = articles.select("article_id", *LEVELS)
    stacked = (customer_article.join(F.broadcast(arts), "article_id")
               .select("cutoff", "customer_key", F.explode(F.array(*levels)).alias("lc"),
                       *WINDOW_COLUMNS)
               .select("cutoff", "customer_key", "lc.level", "lc.category", *WINDOW_COLUMNS)
               .filter(F.col("category").isNotNull()))
    sums = [F.sum(c).cast("int").alias(c) for c in ADDITIVE_COLUMNS if c != "decayed"]
    return (stacked.groupBy("cutoff", "customer_key", "level", "category")
            .agg(*sums, F.sum("decayed").alias("decayed"),
                 F.min("days_since_last").cast("int").alias("days_since_last"))
            .select("cutoff", "customer_key", "level", "category", *WINDOW_COLUMNS))


def article_first_sale(transactions: DataFrame, cutoff: str | dt.date) -> DataFrame:
    """(article_id, first_sale): the first date each article sold on or before the cutoff (taken as
    its release date)."""
    return (history(transactions, cutoff).groupBy("article_id")
            .agg(F.min("t_dat").alias("first_sale")))


CUSTOMER_COLUMNS = ("units", "active_weeks", "days_since_last", "price_min", "price_mean",
                    "price_max", "online_share", "age", "newness_days")


def customer_features(transactions: DataFrame, customers: DataFrame, cutoff: str | dt.date,
                      first_sale: DataFrame | None = None) -> DataFrame:
    """``features_customer``: grain (cutoff, customer_key), as of ``cutoff``.

    Every customer of the customers table gets a row.  Without history before the cutoff:
    ``units`` and ``active_weeks`` are 0, everything else computed from purchases is null.

    - units: units bought; active_weeks: distinct weeks floor(days_before / 7) with a purchase
    - days_since_last: smallest days_before
    - price_min / price_mean / price_max: over units; online_share: share of units with channel 2
    - age: from the customers table (null when unknown)
    - newness_days: mean over units of (t_dat - the article's first sale date on or before the cutoff)

    ``first_sale`` (article_id, first_sale) may be passed when already computed for the same cutoff
    (it is small and broadcast); by default it is computed from ``transactions``.
    """
    hist = history(transactions, cutoff)
    if first_sale is None:
        first_sale = article_first_sale(transactions, cutoff)
    db = _days_before()
    agg = (hist.join(F.broadcast(first_sale.select("article_id", "first_sale")), "article_id")
           .groupBy("customer_key")
           .agg(F.count(F.lit(1)).cast("int").alias("units"),
                F.count_distinct(F.floor(db / F.lit(WEEK_DAYS))).cast("int").alias("active_weeks"),
                F.min(db).cast("int").alias("days_since_last"),
                F.min("price").alias("price_min"),
                F.avg("price").alias("price_mean"),
                F.max("price").alias("price_max"),
                F.avg(F.when(F.col("sales_channel_id") == 2, 1.0).otherwise(0.0))
                .alias("online_share"),
                F.avg(F.datediff("t_dat", "first_sale").cast("double")).alias("newness_days")))
    return (customers.select("customer_key", F.col("age").cast("int").alias("age"))
            .join(agg, "customer_key", "left")
            .fillna(0, subset=["units", "active_weeks"])
            .select(cutoff_column(cutoff), "customer_key", *CUSTOMER_COLUMNS))


ARTICLE_COLUMNS = ("units_1w", "units_prev_week", "units_4w", "units_all", "trend", "first_sale",
                   "days_since_release", "buyer_age_mean", "buyer_age_std", "price_mean",
                   "price_first", "price_last", "price_last_first_ratio")


@dataclass(frozen=True)
class ArticleHistory:
    """Per-article daily aggregates of the transactions up to ``until``, from which the article
    table of any cutoff on or before ``until`` is computed without reading the transactions again
    (the pipeline builds them once per run for its five cutoffs).

    ``sales``   grain (article_id, t_dat): units (rows) and price_sum of that day
    ``buyers``  grain (article_id, first_dat): the buyers with a known age whose first purchase of
                the article was on first_dat: buyers, age_sum, age_sq_sum.  A customer bought the
                article on or before a cutoff exactly when their first purchase is, so summing the
                rows with first_dat <= cutoff gives that cutoff's distinct buyers.
    """

    until: dt.date
    sales: DataFrame
    buyers: DataFrame

    def persist(self) -> "ArticleHistory":
        from pyspark import StorageLevel

        keep = StorageLevel.MEMORY_AND_DISK
        return ArticleHistory(self.until, self.sales.persist(keep), self.buyers.persist(keep))

    def unpersist(self) -> None:
        self.sales.unpersist()
        self.buyers.unpersist()


def article_history(transactions: DataFrame, customers: DataFrame,
                    until: str | dt.date) -> ArticleHistory:
    """:class:`ArticleHistory` of the transactions with ``t_dat <= until``."""
    until = as_date(until)
    hist = transactions.filter(F.col("t_dat") <= F.lit(until))
    sales = (hist.groupBy("article_id", "t_dat")
             .agg(F.count(F.lit(1)).cast("int").alias("units"), F.sum("price").alias("price_sum")))
    ages = (customers.select("customer_key", F.col("age").cast("double").alias("age"))
            .filter(F.col("age").isNotNull()))
    first = (hist.groupBy("customer_key", "article_id").agg(F.min("t_dat").alias("first_dat"))
             .join(ages, "customer_key"))
    buyers = (first.groupBy("article_id", "first_dat")
              .agg(F.count(F.lit(1)).cast("long").alias("buyers"), F.sum("age").alias("age_sum"),
                   F.sum(F.col("age") * F.col("age")).alias("age_sq_sum")))
    return ArticleHistory(until, sales, buyers)


def article_features(history_or_transactions: "ArticleHistory | DataFrame", articles: DataFrame,
                     customers: DataFrame | None, cutoff: str | dt.date) -> DataFrame:
    """``features_article``: grain (cutoff, article_id), as of ``cutoff``.

    Every article of the articles table gets a row.  Without sales before the cutoff: the unit
    counts are 0, ``trend`` is 1.0 and everything else is null.

    - units_1w, units_4w, units_all: units sold (windows as in the module docstring);
      units_prev_week: units of the week before the last (7 <= days_before < 14)
    - trend: (units_1w + 1) / (units_prev_week + 1), defined when the week before had no sales
    - first_sale: first date sold on or before the cutoff (the release); days_since_release:
      cutoff - first_sale in days (0 when first sold on the cutoff day)
    - buyer_age_mean / buyer_age_std: mean and sample standard deviation of the age of the distinct
      buyers with a known age (each buyer once, however many units); std null under 2 such buyers
    - price_mean: mean price over units
    - price_first / price_last: mean price of the units of the first / the last day it sold;
      price_last_first_ratio = price_last / price_first (null when price_first is 0)

    The first argument is either the transactions (with ``customers`` for the ages) or an
    :class:`ArticleHistory` with ``until >= cutoff`` (``customers`` is then not read); both give
    the same table.
    """
    cutoff = as_date(cutoff)
    if isinstance(history_or_transactions, ArticleHistory):
        ah = history_or_transactions
        if ah.until < cutoff:
            raise ValueError(f"the article history ends on {ah.until}, before the cutoff {cutoff}")
    else:
        if customers is None:
            raise ValueError("article_features from transactions needs the customers (ages)")
        ah = article_history(history_or_transactions, customers, cutoff)
    cut = F.lit(cutoff).cast("date")
    daily = (ah.sales.filter(F.col("t_dat") <= cut)
             .withColumn("days_before", F.datediff(cut, F.col("t_dat"))))
    db = _days_before()
    n = F.col("units")
    sold = (daily.groupBy("article_id")
            .agg(F.sum(F.when(db < WEEK_DAYS, n).otherwise(0)).cast("int").alias("units_1w"),
                 F.sum(F.when((db >= WEEK_DAYS) & (db < 2 * WEEK_DAYS), n).otherwise(0))
                 .cast("int").alias("units_prev_week"),
                 F.sum(F.when(db < 4 * WEEK_DAYS, n).otherwise(0)).cast("int").alias("units_4w"),
                 F.sum(n).cast("int").alias("units_all"),
                 F.min("t_dat").alias("first_sale"),
                 (F.sum("price_sum") / F.sum(n)).alias("price_mean"),
                 # One row per (article, day) here, so min_by / max_by over t_dat are unique.
                 F.min_by(F.col("price_sum") / n, F.col("t_dat")).alias("price_first"),
                 F.max_by(F.col("price_sum") / n, F.col("t_dat")).alias("price_last")))
    k, s1, s2 = F.col("_k"), F.col("_s1"), F.col("_s2")
    ages = (ah.buyers.filter(F.col("first_dat") <= cut)
            .groupBy("article_id")
            .agg(F.sum("buyers").alias("_k"), F.sum("age_sum").alias("_s1"),
                 F.sum("age_sq_sum").alias("_s2"))
            .select("article_id", (s1 / k).alias("buyer_age_mean"),
                    # Sample variance from the sums (ages are small whole numbers: exact enough),
                    # clamped at 0 against rounding; null under two buyers as stddev_samp.
                    F.when(k >= 2, F.sqrt(F.greatest(F.lit(0.0), (s2 - s1 * s1 / k) / (k - 1))))
                    .alias("buyer_age_std")))
    return (articles.select("article_id")
            .join(sold, "article_id", "left")
            .join(ages, "article_id", "left")
            .fillna(0, subset=["units_1w", "units_prev_week", "units_4w", "units_all"])
            .withColumn("trend", (F.col("units_1w") + 1).cast("double")
                        / (F.col("units_prev_week") + 1).cast("double"))
            .withColumn("days_since_release", F.datediff(cut, F.col("first_sale")).cast("int"))
            .withColumn("price_last_first_ratio",
                        F.when(F.col("price_first") > 0, F.col("price_last") / F.col("price_first")))
            .select(cutoff_column(cutoff), "article_id", *ARTICLE_COLUMNS))
