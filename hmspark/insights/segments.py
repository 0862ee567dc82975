"""Customer segments as of a cutoff: an RFM grid with readable names, and a k-means clustering.

Both label the profile of :func:`hmspark.insights.profile.customer_profile` (grain (cutoff,
customer_key)), so both see only ``t_dat <= cutoff``.

**RFM grid.**  Three tiers each (0 when there is nothing to measure):

- R (recency, whole history): 3 = active (last purchase less than ``active_days`` ago), 2 = cooling
  (less than ``lapsed_days``), 1 = lapsed, 0 = no purchase
- F (purchase days in the window): 3 = frequent (``frequent_min_days`` or more), 2 = repeat (2 ..),
  1 = one-off, 0 = none in the window
- M (spend in the window): 3 / 2 / 1 = above the 2/3 quantile / above the 1/3 quantile / at most
  the 1/3 quantile of the spend of the window's buyers; 0 = none in the window

``rfm_cell`` is ``R3F2M1`` and so on; ``rfm_segment`` names the cells, first rule that matches:

==============  =======================================================================
no purchase     no purchase on or before the cutoff
new             first purchase less than ``new_days`` ago
lapsed          R1: last purchase ``lapsed_days`` or more ago
champions       R3 F3 M3
loyal           R3 and F2 or F3
at risk         R2, F2 or F3, M2 or M3: bought often or much, but not lately
occasional      the rest: one-off or low-value buyers of the last ``lapsed_days``
==============  =======================================================================

**Clusters.**  MLlib k-means on the standardised behaviour vectors of the window's buyers:
log(1 + recency_days), log(1 + frequency), log(1 + spend per purchase day / mean unit price),
online share, age (the buyers' mean when unknown) and the share of units in each index group.
k runs from ``k_min`` to ``k_max`` and the one with the highest silhouette (squared Euclidean, on a
sample of at most ``k_sample`` buyers; ties: the smaller k) is kept; its model labels every buyer.
Customers without a purchase in the window get cluster -1.  A cluster's name lists the (at most
three) features whose centroid is furthest from the mean, e.g. ``C2: frequent, online, Divided``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from hmspark.config import SegmentSettings

log = logging.getLogger("hmspark.insights")

NO_PURCHASE = "no purchase"
RFM_SEGMENTS = ("champions", "loyal", "new", "at risk", "occasional", "lapsed", NO_PURCHASE)
NO_CLUSTER = -1
NOT_IN_WINDOW = "no purchase in window"
NOT_CLUSTERED = "not clustered"
QUANTILE_ACCURACY = 100_000

SEGMENT_COLUMNS = ("r_tier", "f_tier", "m_tier", "rfm_cell", "rfm_segment", "cluster",
                   "cluster_name")


# ----------------------------------------------------------------------------------------------
# RFM


def value_thresholds(profile: DataFrame) -> tuple[float | None, float | None]:
    """The 1/3 and 2/3 quantiles of ``monetary`` among customers with a purchase in the window
    (``percentile_approx``: the smallest value with at least that share of buyers at or below it;
    exact on small data); (None, None) when nobody bought."""
    row = (profile.filter(F.col("frequency") > 0)
           .agg(F.percentile_approx("monetary", [1 / 3, 2 / 3], QUANTILE_ACCURACY).alias("q"))
           .first())
    q = row["q"] if row is not None else None
    if not q:
        return None, None
    return float(q[0]), float(q[1])


def rfm_labels(profile: DataFrame, cfg: SegmentSettings = SegmentSettings(),
               thresholds: tuple[float | None, float | None] | None = None) -> DataFrame:
    """The profile with ``r_tier``, ``f_tier``, ``m_tier``, ``rfm_cell`` and ``rfm_segment`` added
    (rules in the module docstring); ``thresholds`` default to :func:`value_thresholds`."""
    if not 0 < cfg.active_days < cfg.lapsed_days:
        raise ValueError(f"segments: need 0 < active_days < lapsed_days, not {cfg.active_days} "
                         f"and {cfg.lapsed_days}")
    if cfg.frequent_min_days < 3:
        raise ValueError(f"segments.frequent_min_days must be >= 3, not {cfg.frequent_min_days}")
    q1, q2 = thresholds if thresholds is not None else value_thresholds(profile)
    rec, freq, money = F.col("recency_days"), F.col("frequency"), F.col("monetary")
    r = (F.when(rec.isNull(), 0).when(rec < cfg.active_days, 3).when(rec < cfg.lapsed_days, 2)
         .otherwise(1))
    f = (F.when(freq <= 0, 0).when(freq == 1, 1).when(freq < cfg.frequent_min_days, 2).otherwise(3))
    if q1 is None:
        m = F.lit(0)
    else:
        m = (F.when(freq <= 0, 0).when(money <= F.lit(q1), 1).when(money <= F.lit(q2), 2)
             .otherwise(3))
    out = profile.withColumns({"r_tier": r.cast("int"), "f_tier": f.cast("int"),
                               "m_tier": m.cast("int")})
    R, Fq, M = F.col("r_tier"), F.col("f_tier"), F.col("m_tier")
    segment = (F.when(R == 0, NO_PURCHASE)
               .when(F.col("first_purchase_days") < cfg.new_days, "new")
               .when(R == 1, "lapsed")
               .when((R == 3) & (Fq == 3) & (M == 3), "champions")
               .when((R == 3) & (Fq >= 2), "loyal")
               .when((R == 2) & (Fq >= 2) & (M >= 2), "at risk")
               .otherwise("occasional"))
    cell = F.concat(F.lit("R"), R.cast("string"), F.lit("F"), Fq.cast("string"), F.lit("M"),
                    M.cast("string"))
    return out.withColumns({"rfm_cell": cell, "rfm_segment": segment})


# ----------------------------------------------------------------------------------------------
# Clusters


@dataclass
class Clustering:
    """What :func:`cluster_customers` found: the labels, the k chosen and why."""

    labels: DataFrame                      # customer_key, cluster, cluster_name (buyers only)
    k: int | None = None
    silhouettes: dict[int, float | None] = field(default_factory=dict)
    clusters: list[dict] = field(default_factory=list)   # one summary per cluster
    message: str = ""


def index_groups(articles: DataFrame) -> list[str]:
    return sorted(r[0] for r in articles.select("index_group_name").distinct().collect()
                  if r[0] is not None)


def behaviour_frame(profile: DataFrame, units: DataFrame, articles: DataFrame,
                    groups: list[str]) -> tuple[DataFrame, list[str]]:
    """(frame of the window's buyers with one raw feature column each, feature names)."""
    arts = F.broadcast(articles.select("article_id", "index_group_name"))
    shares = (units.join(arts, "article_id")
              .groupBy("customer_key").pivot("index_group_name", groups).count())
    share_cols = [f"ig_{i}" for i in range(len(groups))]
    shares = shares.select("customer_key", *[F.col(f"`{g}`").alias(c)
                                             for g, c in zip(groups, share_cols)])
    mean_price = units.agg(F.avg("price")).first()[0] or 1.0
    buyers = profile.filter(F.col("frequency") > 0)
    mean_age = buyers.agg(F.avg("age")).first()[0]
    mean_age = float(mean_age) if mean_age is not None else 0.0
    feats = {
        "recency": F.log1p(F.col("recency_days").cast("double")),
        "frequency": F.log1p(F.col("frequency").cast("double")),
        "spend": F.log1p(F.col("spend_per_day") / F.lit(float(mean_price))),
        "online": F.col("online_share"),
        "age": F.coalesce(F.col("age").cast("double"), F.lit(mean_age)),
    }
    frame = (buyers.join(shares, "customer_key", "left").fillna(0, subset=share_cols)
             .select("customer_key", "recency_days", "frequency", "monetary", "spend_per_day",
                     "online_share", "age", *share_cols,
                     *[e.alias(f"x_{n}") for n, e in feats.items()],
                     *[(F.col(c) / F.col("units")).alias(f"x_{c}") for c in share_cols]))
    return frame, [f"x_{n}" for n in feats] + [f"x_{c}" for c in share_cols]


def feature_words(groups: list[str]) -> list[tuple[str | None, str | None]]:
    """(word when above the mean, word when below) per feature, in feature order."""
    return [("lapsing", "recent"), ("frequent", "infrequent"), ("big spenders", "small baskets"),
            ("online", "in-store"), ("older", "younger")] + [(g, None) for g in groups]


def cluster_name(cluster: int, center, words, min_z: float = 0.5, terms: int = 3) -> str:
    picked = []
    for z, (hi, lo) in sorted(zip(center, words), key=lambda t: -abs(t[0])):
        word = hi if z > 0 else lo
        if abs(z) < min_z or word is None:
            continue
        picked.append(word)
        if len(picked) == terms:
            break
    return f"C{cluster}: {', '.join(picked) if picked else 'average'}"


def cluster_customers(profile: DataFrame, units: DataFrame, articles: DataFrame,
                      cfg: SegmentSettings = SegmentSettings()) -> Clustering:
    """k-means clusters of the window's buyers, k chosen by silhouette (module docstring)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.clustering import KMeans
    from pyspark.ml.evaluation import ClusteringEvaluator
    from pyspark.ml.feature import StandardScaler, VectorAssembler

    spark = profile.sparkSession
    empty = spark.createDataFrame([], "customer_key int, cluster int, cluster_name string")
    if not 2 <= cfg.k_min <= cfg.k_max:
        raise ValueError(f"segments: need 2 <= k_min <= k_max, not {cfg.k_min} and {cfg.k_max}")
    groups = index_groups(articles)
    frame, names = behaviour_frame(profile, units, articles, groups)
    prep = Pipeline(stages=[VectorAssembler(inputCols=names, outputCol="raw", handleInvalid="keep"),
                            StandardScaler(inputCol="raw", outputCol="features", withMean=True,
                                           withStd=True)])
    frame = frame.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        n = frame.count()
        ks = list(range(cfg.k_min, min(cfg.k_max, n - 1) + 1))
        if not ks:
            return Clustering(empty, message=f"{n} buyers in the window: too few to cluster into "
                                             f"k >= {cfg.k_min} groups")
        prep_model = prep.fit(frame)
        vectors = prep_model.transform(frame).persist(StorageLevel.MEMORY_AND_DISK)
        sample = vectors
        if n > cfg.k_sample:
            sample = vectors.sample(fraction=cfg.k_sample / n, seed=cfg.seed)
        sample = sample.persist(StorageLevel.MEMORY_AND_DISK)
        evaluator = ClusteringEvaluator(featuresCol="features", predictionCol="cluster",
                                        metricName="silhouette",
                                        distanceMeasure="squaredEuclidean")
        scores: dict[int, float | None] = {}
        models = {}
        for k in ks:
            model = KMeans(k=k, seed=cfg.seed, maxIter=cfg.kmeans_max_iter, featuresCol="features",
                           predictionCol="cluster").fit(sample)
            try:
                score = float(evaluator.evaluate(model.transform(sample)))
            except Exception as exc:  # a single non-empty cluster has no silhouette
                log.warning("k=%d: no silhouette (%s)", k, str(exc).splitlines()[0][:200])
                score = None
            if score is not None and math.isnan(score):
                score = None
            scores[k], models[k] = score, model
            log.info("k-means k=%d: silhouette %s", k, "-" if score is None else f"{score:.4f}")
        valid = {k: s for k, s in scores.items() if s is not None}
        if not valid:
            sample.unpersist()
            vectors.unpersist()
            return Clustering(empty, silhouettes=scores,
                              message="no k gave a silhouette (all buyers alike?)")
        best = max(valid, key=lambda k: (valid[k], -k))
        model = models[best]
        words = feature_words(groups)
        names_of = {i: cluster_name(i, c, words) for i, c in enumerate(model.clusterCenters())}
        name_map = F.create_map(*[x for i, nm in names_of.items() for x in (F.lit(i), F.lit(nm))])
        labelled = (model.transform(vectors)
                    .select("customer_key", F.col("cluster").cast("int").alias("cluster"),
                            "recency_days", "frequency", "monetary", "spend_per_day",
                            "online_share", "age", *[f"ig_{i}" for i in range(len(groups))])
                    .withColumn("cluster_name", name_map[F.col("cluster")]))
        summary = summarise_clusters(labelled, groups)
        # Materialised before the vectors are released (a few bytes per buyer).
        labels = labelled.select("customer_key", "cluster", "cluster_name") \
            .persist(StorageLevel.MEMORY_AND_DISK)
        labels.count()
        sample.unpersist()
        vectors.unpersist()
        return Clustering(labels, best, scores, summary,
                          f"k = {best}: the highest silhouette over k = {ks[0]}..{ks[-1]}")
    finally:
        frame.unpersist()


def summarise_clusters(labelled: DataFrame, groups: list[str]) -> list[dict]:
    """One dict per cluster: size, name, mean behaviour, the index group with most units."""
    share_cols = [f"ig_{i}" for i in range(len(groups))]
    rows = (labelled.groupBy("cluster", "cluster_name").agg(
        F.count(F.lit(1)).alias("customers"),
        F.avg("recency_days").alias("mean_recency_days"),
        F.avg("frequency").alias("mean_frequency"),
        F.avg("monetary").alias("mean_monetary"),
        F.avg("spend_per_day").alias("mean_spend_per_day"),
        F.avg("online_share").alias("mean_online_share"),
        F.avg("age").alias("mean_age"),
        *[F.sum(c).alias(c) for c in share_cols]).orderBy("cluster").collect())
    out = []
    for r in rows:
        d = r.asDict()
        units = [d.pop(c) or 0 for c in share_cols]
        d["top_index_group"] = groups[max(range(len(groups)), key=lambda i: units[i])] \
            if groups and sum(units) > 0 else None
        out.append(d)
    return out


def segment_labels(profile: DataFrame, clustering: Clustering,
                   cfg: SegmentSettings = SegmentSettings()) -> DataFrame:
    """Grain (cutoff, customer_key): the profile with both labels (``SEGMENT_COLUMNS``)."""
    missing = NOT_IN_WINDOW if clustering.k is not None else NOT_CLUSTERED
    return (rfm_labels(profile, cfg)
            .join(clustering.labels, "customer_key", "left")
            .withColumn("cluster", F.coalesce(F.col("cluster"), F.lit(NO_CLUSTER)))
            .withColumn("cluster_name", F.coalesce(F.col("cluster_name"), F.lit(missing))))


def segment_order(name: str) -> tuple:
    """Sort key: RFM segments in ``RFM_SEGMENTS`` order, clusters by number, the rest last."""
    if name in RFM_SEGMENTS:
        return (0, RFM_SEGMENTS.index(name), name)
    if name.startswith("C") and ":" in name and name[1:name.index(":")].isdigit():
        return (1, int(name[1:name.index(":")]), name)
    return (2, 0, name)


def size_table(segments: DataFrame, column: str) -> list[tuple[str, int]]:
    """(segment, customers) for a label column, in segment order."""
    rows = segments.groupBy(column).agg(F.count(F.lit(1)).alias("n")).collect()
    return sorted(((r[column], int(r["n"])) for r in rows), key=lambda t: segment_order(t[0]))
