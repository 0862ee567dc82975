"""Training data for the ranker: candidates of past cutoffs with their features and a label.

Grain: one row per (cutoff, customer_key, article_id) candidate.  ``label`` is 1 when the customer
bought the article in the 7 days after that cutoff (``hmspark.cutoff.target_week``), else 0.  The
features come from ``hmspark.features.assemble`` and use only data up to the cutoff, so the label
is the only column that looks past it.

Sampling, in Spark before anything reaches the driver:

- groups (cutoff, customer) without a positive teach lambdarank nothing and are dropped;
- negatives are kept with probability ``min(negative_rate, negatives_per_week / negatives of that
  week)``, decided by a hash of (seed, cutoff, customer, article) so that the sample does not
  depend on partitioning;
- every positive is kept.

On the driver the rows are sorted by (cutoff, customer_key) so that each query group is contiguous;
``group_sizes`` gives LightGBM the sizes in that order.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from hmspark.config import TrainSettings
from hmspark.cutoff import target_week

GROUP_KEYS = ["cutoff", "customer_key"]
# LightGBM refuses queries of more than 10,000 rows.
MAX_GROUP_ROWS = 10_000


def label_candidates(candidates: DataFrame, transactions: DataFrame, cutoff: str | dt.date
                     ) -> DataFrame:
    """Add ``label`` (0/1): bought in the target week of ``cutoff``."""
    bought = (target_week(transactions, cutoff).select("customer_key", "article_id").distinct()
              .withColumn("label", F.lit(1)))
    return (candidates.join(bought, ["customer_key", "article_id"], "left")
            .fillna(0, subset=["label"]))


def positive_groups(labels: DataFrame) -> DataFrame:
    """(cutoff, customer_key) of the query groups with at least one positive ``label``."""
    return (labels.groupBy(*GROUP_KEYS).agg(F.max("label").alias("_has_pos"))
            .filter(F.col("_has_pos") > 0).drop("_has_pos"))


def sample_training_rows(labelled: DataFrame, cfg: TrainSettings,
                         labels: DataFrame | None = None,
                         groups: DataFrame | None = None) -> DataFrame:
    """Keep groups with a positive, all positives and a hashed sample of the negatives per cutoff.

    ``labels``: the same rows' (cutoff, customer_key, article_id, label) alone, when ``labelled``
    is expensive (the assembled features): the groups with a positive and the negatives per cutoff
    are then counted on it, so that ``labelled`` itself is computed once, not three times.
    ``groups``: ``positive_groups(labels)`` when the caller has it already.
    """
    labels = labelled if labels is None else labels
    with_pos = positive_groups(labels) if groups is None else groups
    kept = labelled.join(with_pos, GROUP_KEYS, "left_semi")
    negatives = (labels.join(with_pos, GROUP_KEYS, "left_semi").filter(F.col("label") == 0)
                 .groupBy("cutoff").agg(F.count(F.lit(1)).alias("_neg")))
    fraction = F.least(F.lit(float(cfg.negative_rate)),
                       F.lit(float(cfg.negatives_per_week)) / F.col("_neg"))
    # A uniform number in [0, 1) from a hash: the same rows are kept however Spark partitions.
    u = (F.pmod(F.xxhash64(F.lit(cfg.seed), "cutoff", "customer_key", "article_id"),
                F.lit(1 << 30)) / F.lit(float(1 << 30)))
    return (kept.join(F.broadcast(negatives), "cutoff", "left")
            .filter((F.col("label") == 1) | (u < fraction))
            .drop("_neg"))


SORT_KEYS = GROUP_KEYS + ["article_id"]


def is_sorted(frame: pd.DataFrame) -> bool:
    """True when the rows are already in ``sort_groups`` order (then no sorted copy is needed)."""
    return pd.MultiIndex.from_frame(frame[SORT_KEYS]).is_monotonic_increasing


def sort_groups(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted so that each (cutoff, customer_key) group is contiguous (stable order); the
    frame itself when it already is."""
    if is_sorted(frame):
        return frame
    return frame.sort_values(SORT_KEYS, kind="mergesort").reset_index(drop=True)


def group_sizes(frame: pd.DataFrame) -> np.ndarray:
    """Sizes of the consecutive query groups of a frame sorted by ``sort_groups``.

    Checks what LightGBM needs: groups contiguous, sizes summing to the rows, none over
    ``MAX_GROUP_ROWS``.
    """
    if frame.empty:
        return np.zeros(0, dtype=np.int64)
    keys = frame[GROUP_KEYS]
    starts = np.flatnonzero((keys != keys.shift()).any(axis=1).to_numpy())
    sizes = np.diff(np.append(starts, len(frame)))
    if len(sizes) != len(keys.drop_duplicates()):
        raise ValueError("query groups are not contiguous; sort the frame with sort_groups first")
    if sizes.max() > MAX_GROUP_ROWS:
        raise ValueError(f"a query group has {sizes.max()} rows; LightGBM allows {MAX_GROUP_ROWS}")
    return sizes
