"""Rankings without a model, scored on the same week as the ranker.

- ``popular``: last week's 12 bestsellers for everyone (the fill list alone).
- ``repurchase_popular``: the customer's own recent purchases (the repurchase source's order), then
  the bestsellers.
- ``heuristic``: the original design without a model: recent purchases, then the co-purchase
  partners of recent purchases (pair count order), then the bestsellers.

Each returns a ``ranked`` frame (customer_key, article_id, score, source) for
``hmspark.ranker.score.top_k_with_fill``; a higher score ranks first.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from hmspark.recall.common import PAIR, REPURCHASE

RANKED_SCHEMA = "customer_key int, article_id int, score double, source string"

# Source order of each baseline that uses candidate sources: earlier sources outrank later ones.
SOURCE_ORDERS = {"repurchase_popular": [REPURCHASE], "heuristic": [REPURCHASE, PAIR]}


def from_sources(candidate_sources: DataFrame, order: list[str]) -> DataFrame:
    """Rank a customer's candidates by source (in ``order``), then by the rank within the source;
    an article proposed by two sources takes its best place."""
    tiers = F.create_map(*[x for i, s in enumerate(order) for x in (F.lit(s), F.lit(len(order) - i))])
    score = tiers[F.col("source")] * F.lit(1_000_000.0) - F.col("rank")
    return (candidate_sources.filter(F.col("source").isin(order))
            .select("customer_key", "article_id", score.alias("score"), "source")
            .groupBy("customer_key", "article_id")
            .agg(F.max_by("source", "score").alias("source"), F.max("score").alias("score"))
            .select("customer_key", "article_id", "score", "source"))


def baseline_rankings(spark: SparkSession, candidate_sources: DataFrame) -> dict[str, DataFrame]:
    """name -> ranked frame, for the baselines above (popular is the fill list alone)."""
    out = {"popular": spark.createDataFrame([], RANKED_SCHEMA)}
    for name, order in SOURCE_ORDERS.items():
        out[name] = from_sources(candidate_sources, order)
    return out
