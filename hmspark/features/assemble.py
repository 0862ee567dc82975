"""One row per candidate with every model feature: the feature tables of a cutoff joined onto the
``candidates`` table of the same cutoff (written by ``hmspark.recall``).

Output columns: ``KEY_COLUMNS`` then ``FEATURE_COLUMNS`` (all double, so that the frame goes to
LightGBM through Arrow as one float matrix; null = NaN = missing for LightGBM).  Missing values:

- counts of the customer x article and customer x category tables: 0 when the customer never
  bought the article / the category; their ``days_since_last``: ``NEVER_DAYS`` (never bought reads
  as "longer ago than anything real")
- candidate pair features: 0 when the pair has no row in ``candidate_pair_features``
- source score columns: taken as written by recall (null where the source did not propose the
  candidate); a score column absent from the candidates table is a null column, so the feature
  list never changes
- customer, article and age-gap features: as stored (see ``hmspark.features.compute``): unknown
  stays null, except the customer's ``days_since_last`` which is ``NEVER_DAYS`` without history
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from hmspark.cutoff import as_date
from hmspark.features import build as B
from hmspark.features import compute as C
from hmspark.scope import only_customers
from hmspark.tables import TableNotFound, read_table

log = logging.getLogger("hmspark.features")

# "Days since" for something that never happened before the cutoff (the data spans ~730 days).
NEVER_DAYS = 9999

KEY_COLUMNS = ["cutoff", "customer_key", "article_id", "product_code"]

# Wide per-source score columns of the candidates table used as features when present.
SOURCE_SCORES = ["pair_score_max", "pair_score_sum", "repurchase_count", "repurchase_days_since",
                 "popular_rank", "last_year_rank", "category_rank"]
PAIR_FEATURES = ["pair_count_max", "pair_count_sum"]

# The window columns the model reads (the tables hold all of C.WINDOW_COLUMNS).  Left out after
# the ablation at full scale (docs/scale.md): units_ly everywhere, and the category levels' 1- and
# 4-week counts (their decayed sum carries the recency) — together ~1% of the gain.
CA_WINDOW = tuple(c for c in C.WINDOW_COLUMNS if c != "units_ly")
CC_WINDOW = ("units_12w", "units_all", "decayed", "days_since_last")
CA_FEATURES = [f"ca_{c}" for c in CA_WINDOW]
CC_FEATURES = [f"cc_{short}_{c}" for short in C.LEVELS.values() for c in CC_WINDOW]
CUSTOMER_FEATURES = [f"c_{c}" for c in C.CUSTOMER_COLUMNS]
ARTICLE_FEATURES = [f"a_{c}" for c in C.ARTICLE_COLUMNS if c != "first_sale"]
DERIVED_FEATURES = ["age_gap"]

FEATURE_COLUMNS: list[str] = (CA_FEATURES + CC_FEATURES + CUSTOMER_FEATURES + ARTICLE_FEATURES
                              + DERIVED_FEATURES + PAIR_FEATURES + SOURCE_SCORES)


def _prefixed(df: DataFrame, prefix: str, columns, keys: list[str]) -> DataFrame:
    return df.select(*keys, *[F.col(c).alias(f"{prefix}{c}") for c in columns])


def _fill_window(prefix: str, columns) -> dict[str, Column]:
    """0 for the counts and the decayed sum, NEVER_DAYS for days_since_last."""
    out = {}
    for c in columns:
        name = f"{prefix}{c}"
        fill = NEVER_DAYS if c == "days_since_last" else 0
        out[name] = F.coalesce(F.col(name).cast("double"), F.lit(float(fill)))
    return out


LEVEL_INDEX = {level: i for i, level in enumerate(C.LEVELS)}


def _category_key(level_index: Column, category: Column) -> Column:
    """One long per (level, category value): the level's index in the high 32 bits, the (int)
    category in the low ones, so that keys never collide and no string is built per row."""
    return (level_index.cast("long") * F.lit(1 << 32)
            + (category.cast("long") + F.lit(1 << 31)))


def customer_row(customer: DataFrame, customer_category: DataFrame) -> DataFrame:
    """One row per customer of the customer table: its ``c_`` features and ``_cc``, a map
    (level, category) key (``_category_key``) -> struct of the ``CC_WINDOW`` columns of the
    customer x category table (only its ``LEVELS``)."""
    index = F.lit(None).cast("int")
    for level, i in LEVEL_INDEX.items():
        index = F.when(F.col("level") == F.lit(level), F.lit(i)).otherwise(index)
    entries = (customer_category
               .filter(F.col("category").isNotNull() & F.col("level").isin(*C.LEVELS))
               .select("customer_key",
                       F.struct(_category_key(index, F.col("category")).alias("key"),
                                F.struct(*CC_WINDOW).alias("value")).alias("_e")))
    cc = (entries.groupBy("customer_key")
          .agg(F.map_from_entries(F.collect_list("_e")).alias("_cc")))
    return (_prefixed(customer, "c_", C.CUSTOMER_COLUMNS, ["customer_key"])
            .join(cc, "customer_key", "left"))


def assemble_frames(candidates: DataFrame, pair_features: DataFrame | None, articles: DataFrame,
                    customer_article: DataFrame, customer_category: DataFrame,
                    customer: DataFrame, article: DataFrame) -> DataFrame:
    """Join the feature tables of one cutoff onto its candidates (all inputs already restricted to
    that cutoff).  Grain of the result: the candidates' (cutoff, customer_key, article_id)."""
    cand_cols = set(candidates.columns)
    missing = [c for c in SOURCE_SCORES if c not in cand_cols]
    if missing:
        log.warning("candidates has no column %s: those features are null", ", ".join(missing))
    cand = candidates.select(
        "cutoff", "customer_key", "article_id",
        *[(F.col(c) if c in cand_cols else F.lit(None)).cast("double").alias(c)
          for c in SOURCE_SCORES])

    # Two shuffles of the candidates, whatever the number of tables: the (customer, article)
    # tables join on the same keys (one exchange), then everything per customer comes in one
    # row (customer_row) instead of one join per category level.  The article columns are
    # broadcast joins, made after both shuffles so that they do not travel through them.
    df = cand.join(_prefixed(customer_article, "ca_", CA_WINDOW,
                           ["customer_key", "article_id"]),
                 ["customer_key", "article_id"], "left")
    if pair_features is not None:
        pairs = pair_features.select("customer_key", "article_id", *PAIR_FEATURES)
        df = df.join(pairs, ["customer_key", "article_id"], "left")
    else:
        for c in PAIR_FEATURES:
            df = df.withColumn(c, F.lit(None))
    df = df.join(customer_row(customer, customer_category), "customer_key", "left")
    arts = articles.select("article_id", "product_code", *C.LEVELS)
    df = df.join(F.broadcast(arts), "article_id", "left")
    df = df.join(F.broadcast(_prefixed(article.drop("cutoff"), "a_",
                                       [c for c in C.ARTICLE_COLUMNS if c != "first_sale"],
                                       ["article_id"])),
                 "article_id", "left")
    for level, short in C.LEVELS.items():
        hit = F.col("_cc")[_category_key(F.lit(LEVEL_INDEX[level]), F.col(level))]
        df = df.select("*", *[hit.getField(c).alias(f"cc_{short}_{c}") for c in CC_WINDOW])

    filled: dict[str, Column] = {}
    filled.update(_fill_window("ca_", CA_WINDOW))
    for short in C.LEVELS.values():
        filled.update(_fill_window(f"cc_{short}_", CC_WINDOW))
    for c in PAIR_FEATURES:
        filled[c] = F.coalesce(F.col(c).cast("double"), F.lit(0.0))
    filled["c_days_since_last"] = F.coalesce(F.col("c_days_since_last").cast("double"),
                                             F.lit(float(NEVER_DAYS)))
    filled["age_gap"] = (F.col("c_age").cast("double") - F.col("a_buyer_age_mean"))
    out = [F.col("cutoff"), F.col("customer_key"), F.col("article_id"), F.col("product_code")]
    for name in FEATURE_COLUMNS:
        out.append((filled[name] if name in filled else F.col(name).cast("double")).alias(name))
    return df.select(*out)


def assemble(spark: SparkSession, warehouse: str | Path, cutoff: str | dt.date,
             customers: DataFrame | None = None) -> DataFrame:
    """One row per candidate of ``cutoff`` (table ``candidates``) with ``KEY_COLUMNS`` and
    ``FEATURE_COLUMNS``; needs the feature tables of that cutoff (``build_features``).  The table
    ``candidate_pair_features`` is optional (its features are then 0).

    ``customers`` (a frame with ``customer_key``, small: it is broadcast): only their candidates,
    e.g. the query groups of a training week that have a positive; every table is cut to them
    before the joins.  Their rows are the same as in the whole frame.
    """
    cutoff = as_date(cutoff)
    on_cutoff = F.col("cutoff") == F.lit(cutoff)

    def only(df: DataFrame) -> DataFrame:
        return only_customers(df, customers)

    candidates = only(read_table(spark, warehouse, "candidates").filter(on_cutoff))
    try:
        pairs = only(read_table(spark, warehouse, "candidate_pair_features").filter(on_cutoff))
    except TableNotFound:
        log.warning("no candidate_pair_features table: pair_count features are 0")
        pairs = None
    return assemble_frames(
        candidates, pairs, read_table(spark, warehouse, "articles"),
        only(B.read_features(spark, warehouse, B.CUSTOMER_ARTICLE, cutoff)),
        only(B.read_features(spark, warehouse, B.CUSTOMER_CATEGORY, cutoff)),
        only(B.read_features(spark, warehouse, B.CUSTOMER, cutoff)),
        B.read_features(spark, warehouse, B.ARTICLE, cutoff))
