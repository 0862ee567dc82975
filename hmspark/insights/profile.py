"""The per-customer profile as of a cutoff: what segments, preferences and the report are built on.

Everything reads only ``t_dat <= cutoff`` (:func:`hmspark.cutoff.history`), so rows after the cutoff
never reach a profile even when the whole transactions table is given.  A *purchase day* is a date
on which the customer bought anything; a unit is a transaction row (duplicates are several units).
"The window" is the last ``window_days`` days, cutoff included (``days_before < window_days``).
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from hmspark.config import SegmentSettings
from hmspark.cutoff import as_date, history

ONLINE = 2
UNKNOWN = "unknown"

PROFILE_COLUMNS = ("cutoff", "customer_key", "recency_days", "first_purchase_days", "frequency",
                   "units", "monetary", "spend_per_day", "active_weeks", "online_share", "age",
                   "age_band", "club_member_status", "fav_index_group", "fav_product_group")


def window_rows(transactions: DataFrame, cutoff: str | dt.date, days: int) -> DataFrame:
    """Units of the last ``days`` days up to the cutoff, with ``days_before``."""
    if days < 1:
        raise ValueError(f"segments.window_days must be >= 1, not {days}")
    return history(transactions, cutoff).filter(F.col("days_before") < F.lit(int(days)))


def age_band(age: Column, edges: tuple[int, ...]) -> Column:
    """"<e0", "e0-(e1-1)", ..., "en+" from the sorted band edges; "unknown" for a null age."""
    edges = tuple(sorted(int(e) for e in edges))
    if not edges:
        return F.when(age.isNull(), F.lit(UNKNOWN)).otherwise(F.lit("all ages"))
    expr = F.when(age.isNull(), F.lit(UNKNOWN)).when(age < edges[0], F.lit(f"<{edges[0]}"))
    for lo, hi in zip(edges, edges[1:]):
        expr = expr.when(age < hi, F.lit(f"{lo}-{hi - 1}"))
    return expr.otherwise(F.lit(f"{edges[-1]}+"))


def favourite(units: DataFrame, articles: DataFrame, column: str, alias: str) -> DataFrame:
    """(customer_key, alias): the value of an articles column the customer bought most units of;
    ties go to the alphabetically first value; null values are ignored."""
    counts = (units.join(F.broadcast(articles.select("article_id", column)), "article_id")
              .filter(F.col(column).isNotNull())
              .groupBy("customer_key", column).agg(F.count(F.lit(1)).alias("_n")))
    order = Window.partitionBy("customer_key").orderBy(F.desc("_n"), F.col(column))
    return (counts.withColumn("_r", F.row_number().over(order)).filter(F.col("_r") == 1)
            .select("customer_key", F.col(column).alias(alias)))


def customer_profile(transactions: DataFrame, customers: DataFrame, articles: DataFrame,
                     cutoff: str | dt.date, cfg: SegmentSettings = SegmentSettings()) -> DataFrame:
    """Grain (cutoff, customer_key): every customer of the customers table, as of ``cutoff``.

    - recency_days: days from the last purchase to the cutoff (0 = bought on the cutoff day);
      first_purchase_days: the same for the first purchase (how long the customer has been in the
      data); both over the whole history, null without any purchase
    - frequency: purchase days in the window; units: units in the window; monetary: spend (sum of
      prices) in the window; spend_per_day = monetary / frequency (null when 0)
    - active_weeks: distinct weeks floor(days_before / 7) of the window with a purchase
    - online_share: share of the window's units bought online (null without units)
    - age (null when unknown), age_band (``cfg.age_bands``), club_member_status ("unknown" when
      missing)
    - fav_index_group, fav_product_group: the index group / product group with most units in the
      window (ties: alphabetical), null without units
    """
    cutoff = as_date(cutoff)
    hist = history(transactions, cutoff)
    since = hist.groupBy("customer_key").agg(
        F.min("days_before").cast("int").alias("recency_days"),
        F.max("days_before").cast("int").alias("first_purchase_days"))
    units = window_rows(transactions, cutoff, cfg.window_days)
    in_window = units.groupBy("customer_key").agg(
        F.count_distinct("t_dat").cast("int").alias("frequency"),
        F.count(F.lit(1)).cast("int").alias("units"),
        F.sum("price").alias("monetary"),
        F.count_distinct(F.floor(F.col("days_before") / 7)).cast("int").alias("active_weeks"),
        F.avg(F.when(F.col("sales_channel_id") == ONLINE, 1.0).otherwise(0.0)).alias("online_share"))
    fav_index = favourite(units, articles, "index_group_name", "fav_index_group")
    fav_product = favourite(units, articles, "product_group_name", "fav_product_group")
    base = customers.select("customer_key", F.col("age").cast("int").alias("age"),
                            F.coalesce(F.col("club_member_status"), F.lit(UNKNOWN))
                            .alias("club_member_status"))
    out = (base.join(since, "customer_key", "left")
           .join(in_window, "customer_key", "left")
           .join(fav_index, "customer_key", "left")
           .join(fav_product, "customer_key", "left")
           .fillna(0, subset=["frequency", "units", "active_weeks"])
           .fillna(0.0, subset=["monetary"])
           .withColumn("spend_per_day", F.when(F.col("frequency") > 0,
                                               F.col("monetary") / F.col("frequency")))
           .withColumn("age_band", age_band(F.col("age"), cfg.age_bands))
           .withColumn("cutoff", F.lit(cutoff)))
    return out.select(*PROFILE_COLUMNS)
