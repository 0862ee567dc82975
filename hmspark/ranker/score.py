"""Scoring on the executors and the final 12 articles per customer.

``score_candidates`` runs the model inside ``mapInArrow``: the model text is broadcast once and
each task scores its own Arrow batches, so the candidate rows never travel to the driver.
``top_k_with_fill`` keeps each customer's best 12 and fills from the fallback list (last week's
bestsellers) when a customer has fewer than 12 candidates or none at all (cold start).
"""

from __future__ import annotations

from typing import Iterator

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from hmspark.metrics import K
from hmspark.ranker.model import TrainedModel

SCORED_SCHEMA = "customer_key int, article_id int, score double"


def score_candidates(spark: SparkSession, candidates: DataFrame, model: TrainedModel) -> DataFrame:
    """(customer_key, article_id, score) for every candidate row, computed on the executors.

    Raises ValueError when the model reads a feature that ``candidates`` lacks (a model trained
    by an older version with another feature list: train it again)."""
    features = list(model.features)
    missing = [f for f in features if f not in candidates.columns]
    if missing:
        raise ValueError(f"the model reads {len(missing)} feature(s) that the assembled "
                         f"candidates do not have ({', '.join(missing[:8])}"
                         f"{', ...' if len(missing) > 8 else ''}): it was trained on another "
                         f"feature list; train it again (jobs/train.py)")
    model_text = spark.sparkContext.broadcast(model.model_string)

    def score_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import lightgbm as lgb
        import numpy as np

        booster = lgb.Booster(model_str=model_text.value)
        for batch in batches:
            # Straight from the Arrow columns into one float32 matrix (no pandas frame between):
            # a null double becomes NaN, LightGBM's missing value.
            x = np.empty((batch.num_rows, len(features)), dtype=np.float32)
            for j, name in enumerate(features):
                x[:, j] = batch.column(name).to_numpy(zero_copy_only=False)
            scores = booster.predict(x, num_threads=1) if batch.num_rows else np.zeros(0)
            yield pa.RecordBatch.from_arrays(
                [batch.column("customer_key").cast(pa.int32()),
                 batch.column("article_id").cast(pa.int32()), pa.array(scores, pa.float64())],
                names=["customer_key", "article_id", "score"])

    return candidates.select("customer_key", "article_id", *features) \
        .mapInArrow(score_batches, SCORED_SCHEMA)


def fallback_articles(transactions: DataFrame, articles: DataFrame, cutoff, k: int = K) -> list[int]:
    """``k`` distinct article ids to fill with: last week's bestsellers (units, then article_id),
    then the bestsellers of all history, then catalogue order — so there are always ``k``."""
    from hmspark.cutoff import history

    hist = history(transactions, cutoff)
    picks: list[int] = []
    for frame in (hist.filter(F.col("days_before") < 7), hist):
        rows = (frame.groupBy("article_id").agg(F.count(F.lit(1)).alias("units"))
                .orderBy(F.desc("units"), "article_id").limit(k).collect())
        picks += [r["article_id"] for r in rows if r["article_id"] not in picks]
        if len(picks) >= k:
            return picks[:k]
    rows = articles.select("article_id").orderBy("article_id").limit(2 * k).collect()
    picks += [r["article_id"] for r in rows if r["article_id"] not in picks]
    if len(picks) < k:
        raise ValueError(f"the catalogue has only {len(picks)} articles; {k} are needed")
    return picks[:k]


def top_k_with_fill(spark: SparkSession, ranked: DataFrame, customers: DataFrame,
                    fill: list[int], k: int = K) -> DataFrame:
    """Exactly ``k`` distinct articles for every customer of ``customers``.

    ``ranked``: (customer_key, article_id, score[, source]), one row per (customer, article) —
    higher score first, ties by article_id.  Customers with fewer than ``k`` get the ``fill``
    articles they do not have yet, in order, with source 'fill' and a null score.
    Output: (customer_key, rank 1..k, article_id, score, source).

    The model's rows are cut to each customer's best ``k`` first: a ``row_number() <= k`` filter
    that Spark runs as a window group limit, also before the shuffle, so the tens of millions of
    scored candidates are never sorted whole; fill rows are made only for customers short of k.
    """
    if "source" not in ranked.columns:
        ranked = ranked.withColumn("source", F.lit("model"))
    best = Window.partitionBy("customer_key").orderBy(F.desc_nulls_last("score"), "article_id")
    model_rows = (ranked.select("customer_key", "article_id", "score", "source")
                  .withColumn("_pos", F.row_number().over(best)).filter(F.col("_pos") <= k)
                  .join(customers.select("customer_key"), "customer_key", "left_semi")
                  .select("customer_key", "article_id", "score", "source",
                          F.lit(0).alias("tier"), F.col("_pos").alias("pos")))
    # Fill only the customers short of k, with the fill articles they do not already have.
    have = model_rows.groupBy("customer_key").agg(F.collect_list("article_id").alias("_have"))
    short = (customers.select("customer_key").join(have, "customer_key", "left")
             .withColumn("_have", F.coalesce("_have", F.array().cast("array<int>")))
             .filter(F.size("_have") < k))
    fill_df = spark.createDataFrame([(i, a) for i, a in enumerate(fill)], "pos int, article_id int")
    fill_rows = (short.crossJoin(F.broadcast(fill_df))
                 .filter(~F.array_contains("_have", F.col("article_id")))
                 .select("customer_key", "article_id", F.lit(None).cast("double").alias("score"),
                         F.lit("fill").alias("source"), F.lit(1).alias("tier"), "pos"))
    order = Window.partitionBy("customer_key").orderBy("tier", "pos")
    return (model_rows.unionByName(fill_rows)
            .withColumn("rank", F.row_number().over(order)).filter(F.col("rank") <= k)
            .select("customer_key", "rank", "article_id", "score", "source"))
