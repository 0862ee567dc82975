"""What each segment buys: shares of its units by category and price band, and their lift.

Grain of ``segment_preferences``: (cutoff, segment_type, segment, dimension, value).

- ``segment_type``: ``rfm`` (the ``rfm_segment`` label) or ``cluster`` (``cluster_name``)
- ``dimension``: index_group, product_group, garment_group, colour_group (the articles'
  ``*_name`` columns; a null name counts as "unknown") and price_band
- ``price_band``: the unit's price against the 1/3 and 2/3 quantiles of the prices of all units in
  the window: "low" (at most the 1/3 quantile), "mid" (at most the 2/3 quantile), "high"
- ``units``: the segment's units (transaction rows) of that value in the window (the last
  ``window_days`` up to the cutoff); ``segment_units``: all the segment's units in the window
- ``share`` = units / segment_units: sums to 1 over the values of one (segment, dimension)
- ``overall_share``: the same share over the units of all customers; ``lift`` = share /
  overall_share (1 = like everyone, 2 = twice as likely as an average unit)
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from hmspark.config import SegmentSettings
from hmspark.cutoff import as_date
from hmspark.insights.profile import UNKNOWN, window_rows
from hmspark.insights.segments import QUANTILE_ACCURACY, segment_order

# dimension name -> articles column
DIMENSIONS: dict[str, str] = {
    "index_group": "index_group_name",
    "product_group": "product_group_name",
    "garment_group": "garment_group_name",
    "colour_group": "colour_group_name",
}
PRICE_BAND = "price_band"
PRICE_BANDS = ("low", "mid", "high")
SEGMENT_TYPES = {"rfm": "rfm_segment", "cluster": "cluster_name"}

PREFERENCE_COLUMNS = ("cutoff", "segment_type", "segment", "dimension", "value", "units",
                      "segment_units", "share", "overall_units", "overall_share", "lift")


def price_thresholds(units: DataFrame) -> tuple[float, float] | None:
    """The 1/3 and 2/3 quantiles of the unit prices (``percentile_approx``), None without units."""
    q = units.agg(F.percentile_approx("price", [1 / 3, 2 / 3], QUANTILE_ACCURACY)).first()[0]
    return (float(q[0]), float(q[1])) if q else None


def price_band(price, thresholds: tuple[float, float]):
    lo, hi = thresholds
    return (F.when(price <= F.lit(lo), PRICE_BANDS[0]).when(price <= F.lit(hi), PRICE_BANDS[1])
            .otherwise(PRICE_BANDS[2]))


def segment_preferences(transactions: DataFrame, articles: DataFrame, segments: DataFrame,
                        cutoff: str | dt.date,
                        cfg: SegmentSettings = SegmentSettings()) -> DataFrame:
    """``segment_preferences`` (module docstring) from the window's units and the segment labels
    (``segments``: customer_key, rfm_segment, cluster_name of the same cutoff)."""
    cutoff = as_date(cutoff)
    spark = transactions.sparkSession
    units = window_rows(transactions, cutoff, cfg.window_days).select("customer_key", "article_id",
                                                                      "price")
    thresholds = price_thresholds(units)
    if thresholds is None:
        return spark.createDataFrame([], _schema())
    labels = segments.select("customer_key", *SEGMENT_TYPES.values())
    # Units per (labels, article, band) first: far fewer rows than units, then the categories.
    per_article = (units.withColumn(PRICE_BAND, price_band(F.col("price"), thresholds))
                   .join(labels, "customer_key", "left")
                   .fillna(UNKNOWN, subset=list(SEGMENT_TYPES.values()))
                   .groupBy(*SEGMENT_TYPES.values(), "article_id", PRICE_BAND)
                   .agg(F.count(F.lit(1)).alias("units")))
    arts = articles.select("article_id", *[F.coalesce(F.col(c), F.lit(UNKNOWN)).alias(d)
                                           for d, c in DIMENSIONS.items()])
    pairs = F.array(*[F.struct(F.lit(d).alias("dimension"), F.col(d).alias("value"))
                      for d in (*DIMENSIONS, PRICE_BAND)])
    long = (per_article.join(F.broadcast(arts), "article_id", "left")
            .fillna(UNKNOWN, subset=list(DIMENSIONS))
            .select(*SEGMENT_TYPES.values(), "units", F.explode(pairs).alias("dv"))
            .select(*SEGMENT_TYPES.values(), "units", "dv.dimension", "dv.value"))
    stacked = None
    for kind, column in SEGMENT_TYPES.items():
        part = long.select(F.lit(kind).alias("segment_type"), F.col(column).alias("segment"),
                           "dimension", "value", "units")
        stacked = part if stacked is None else stacked.unionByName(part)
    counts = (stacked.groupBy("segment_type", "segment", "dimension", "value")
              .agg(F.sum("units").alias("units")))
    seg_total = (counts.groupBy("segment_type", "segment", "dimension")
                 .agg(F.sum("units").alias("segment_units")))
    overall = (long.groupBy("dimension", "value").agg(F.sum("units").alias("overall_units")))
    overall_total = overall.groupBy("dimension").agg(F.sum("overall_units").alias("_all"))
    overall = (overall.join(overall_total, "dimension")
               .withColumn("overall_share", F.col("overall_units") / F.col("_all")).drop("_all"))
    return (counts.join(seg_total, ["segment_type", "segment", "dimension"])
            .join(overall, ["dimension", "value"])
            .withColumn("share", F.col("units") / F.col("segment_units"))
            .withColumn("lift", F.col("share") / F.col("overall_share"))
            .select(F.lit(cutoff).alias("cutoff"), "segment_type", "segment", "dimension", "value",
                    F.col("units").cast("long"), F.col("segment_units").cast("long"), "share",
                    F.col("overall_units").cast("long"), "overall_share", "lift"))


def _schema() -> str:
    return ("cutoff date, segment_type string, segment string, dimension string, value string, "
            "units long, segment_units long, share double, overall_units long, "
            "overall_share double, lift double")


def top_preferences(preferences, n: int = 3, min_share: float = 0.03) -> dict[tuple, list[dict]]:
    """(segment_type, segment) -> the ``n`` values with the highest lift among those with at least
    ``min_share`` of the segment's units (rows of any dimension), segments in display order."""
    rows = [r.asDict() if hasattr(r, "asDict") else dict(r) for r in preferences]
    by_segment: dict[tuple, list[dict]] = {}
    for r in rows:
        if r["share"] >= min_share:
            by_segment.setdefault((r["segment_type"], r["segment"]), []).append(r)
    out = {}
    for key in sorted(by_segment, key=lambda k: (k[0] != "rfm", segment_order(k[1]))):
        picks = sorted(by_segment[key], key=lambda r: (-r["lift"], r["dimension"], r["value"]))
        out[key] = picks[:n]
    return out


def format_top_preferences(top: dict[tuple, list[dict]], sizes: dict[tuple, int]) -> list[str]:
    """Printable lines: one per segment with its size and its top preferences."""
    lines = []
    for (kind, segment), picks in top.items():
        size = sizes.get((kind, segment))
        head = f"{kind:<8}{segment:<44}{size if size is not None else '':>9,}" \
            if size is not None else f"{kind:<8}{segment:<44}{'':>9}"
        prefs = "; ".join(f"{p['dimension']}={p['value']} x{p['lift']:.2f} ({p['share']:.0%})"
                          for p in picks)
        lines.append(f"{head}  {prefs}")
    return lines
