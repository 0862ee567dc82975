"""A seeded simulator of H&M-like data in the Kaggle competition's three-file layout.

- ``articles.csv``: the catalogue, one row per article (a product in one colour);
- ``customers.csv``: the customer base, one row per customer;
- ``transactions_train.csv``: one row per unit bought (date, customer, article, price, channel).

The data has the structure a recommender learns from: heavy-tailed and short-lived article
popularity, new articles every week, customers with very different purchase rates and
age-dependent tastes, baskets, repurchases and articles bought together.  See docs/synth.md.

Python API::

    articles, customers, transactions = generate("small", seed=1)
    counts = write_kaggle_csvs("data/small", "small", seed=1)
    stats = realism_stats(transactions, customers, articles)

Command line: ``python -m hmspark.synth --preset small --out data/small [--stats]``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa

from hmspark.synth.core import SynthWorld, simulate
from hmspark.synth.params import PRESETS, SynthParams
from hmspark.synth.stats import REAL, realism_stats
from hmspark.synth.writer import write_world

__all__ = ["PRESETS", "REAL", "SynthParams", "SynthWorld", "generate", "realism_stats",
           "simulate", "write_kaggle_csvs"]


def generate(preset_or_params: str | SynthParams = "tiny", seed: int = 0,
             **options) -> tuple[pd.DataFrame, pa.Table, pa.Table]:
    """Simulate a data set; returns (articles, customers, transactions).

    articles: pandas DataFrame of the articles.csv text columns; customers: arrow table of the
    customers.csv text columns; transactions: arrow table (see `SynthWorld.transactions_table`;
    customer_id is dictionary-encoded to stay small).  ``options``: ``articles_path``,
    ``customers_path`` or any SynthParams field (e.g. ``days``, ``end_date``).
    """
    world = simulate(preset_or_params, seed, **options)
    return world.articles, world.customers, world.transactions_table()


def write_kaggle_csvs(out_dir: str | Path, preset: str | SynthParams = "tiny", seed: int = 0,
                      **options) -> dict[str, int]:
    """Simulate and write articles.csv, customers.csv and transactions_train.csv into
    ``out_dir``; returns the rows written per file (``options`` as for `generate`)."""
    return write_world(simulate(preset, seed, **options), out_dir)
