"""MAP@12 by the competition's definition, plus recall@12 and precision@12, computed in Spark.

Inputs are long tables:

- ``predictions``: (customer_key, rank, article_id), rank 1 = best; any number of rows per customer
  (only ranks 1..k count).
- ``actual``: the target week's transactions (customer_key, article_id), any duplicates.

For each customer who bought anything in the target week:

    AP@k = sum over positions i <= k with a hit of (hits among positions 1..i) / i
           ------------------------------------------------------------------------
                         min(number of distinct articles bought, k)

A prediction repeated at a later position is not a second hit (it still takes its position), as in
the competition's ``apk``.  MAP@k is the mean over the buying customers; a buying customer without
predictions scores 0.  recall@k = hits / distinct articles bought and precision@k = hits / k, both
averaged over the same customers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

K = 12


@dataclass(frozen=True)
class RankingScores:
    map_at_k: float
    recall_at_k: float
    precision_at_k: float
    buyers: int
    k: int = K

    def as_dict(self) -> dict:
        return asdict(self)


def per_customer_scores(predictions: DataFrame, actual: DataFrame, k: int = K) -> DataFrame:
    """One row per buying customer: ap, hits, n_actual (distinct articles bought)."""
    bought = actual.select("customer_key", "article_id").distinct()
    n_actual = bought.groupBy("customer_key").agg(F.count(F.lit(1)).alias("n_actual"))
    first_pos = (predictions.filter(F.col("rank") <= k)
                 .groupBy("customer_key", "article_id").agg(F.min("rank").alias("rank")))
    hits = first_pos.join(bought, ["customer_key", "article_id"])
    order = Window.partitionBy("customer_key").orderBy("rank")
    hits = hits.withColumn("precision", F.row_number().over(order) / F.col("rank"))
    per_hit = hits.groupBy("customer_key").agg(F.sum("precision").alias("precision_sum"),
                                               F.count(F.lit(1)).alias("hits"))
    return (n_actual.join(per_hit, "customer_key", "left")
            .fillna(0, subset=["precision_sum", "hits"])
            .withColumn("ap", F.col("precision_sum") / F.least(F.col("n_actual"), F.lit(k)))
            .select("customer_key", "ap", "hits", "n_actual"))


def ranking_scores(predictions: DataFrame, actual: DataFrame, k: int = K) -> RankingScores:
    """MAP@k, recall@k and precision@k over the customers who bought in the target week."""
    row = (per_customer_scores(predictions, actual, k)
           .agg(F.avg("ap").alias("map"),
                F.avg(F.col("hits") / F.col("n_actual")).alias("recall"),
                F.avg(F.col("hits") / F.lit(k)).alias("precision"),
                F.count(F.lit(1)).alias("buyers"))
           .first())
    if not row["buyers"]:
        return RankingScores(0.0, 0.0, 0.0, 0, k)
    return RankingScores(float(row["map"]), float(row["recall"]), float(row["precision"]),
                         int(row["buyers"]), k)


def predictions_from_arrays(df: DataFrame, column: str = "articles") -> DataFrame:
    """(customer_key, array of article ids in rank order) -> long (customer_key, rank, article_id)."""
    return df.select("customer_key", F.posexplode(column).alias("pos", "article_id")) \
        .select("customer_key", (F.col("pos") + 1).alias("rank"), "article_id")
