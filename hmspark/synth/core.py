"""Putting the simulator together: catalogue + customers -> visits -> baskets.

Randomness comes from independent named streams derived from the seed, so that the same seed
gives the same data and a change in one stage does not reshuffle the others.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from hmspark.synth.baskets import TransactionArrays, simulate_baskets
from hmspark.synth.catalogue import ARTICLE_COLUMNS, ArticleModel, article_model, generate_articles
from hmspark.synth.customers import (CUSTOMER_COLUMNS, CustomerModel, customer_model,
                                     generate_customers)
from hmspark.synth.params import SynthParams, resolve
from hmspark.synth.visits import daily_intensity, simulate_visits, window_dates

MAX_PRICE = 34899  # 348.99 price points = 0.5915 in the file


def stream(seed: int, name: str) -> np.random.Generator:
    """The random generator of one stage of the simulation."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def read_articles(path: str | Path) -> pd.DataFrame:
    """A real ``articles.csv`` with every column kept as the exact text of the file."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def read_customers(path: str | Path) -> pa.Table:
    """A real ``customers.csv`` with every column kept as the exact text of the file."""
    types = {name: pa.string() for name in CUSTOMER_COLUMNS}
    options = pacsv.ConvertOptions(column_types=types, strings_can_be_null=False)
    return pacsv.read_csv(path, convert_options=options)


def price_texts(max_price: int = MAX_PRICE) -> np.ndarray:
    """Text of each price (in 1/100 price points, index 0..max_price) as the real file writes it:
    price / 59000 truncated to 16 decimals, trailing zeros dropped (1999 -> 0.0338813559322033)."""
    digits = (np.arange(max_price + 1, dtype=np.int64) * 10**13) // 59
    texts = np.char.rstrip(np.char.zfill(digits.astype(str), 16), "0")
    return np.char.add("0.", texts)


@dataclass
class SynthWorld:
    """A simulated data set: the catalogue and customers as text tables (exactly what is
    written), the models behind them, and the transactions as compact arrays."""

    params: SynthParams
    seed: int
    dates: np.ndarray
    articles: pd.DataFrame
    customers: pa.Table
    article_model: ArticleModel
    customer_model: CustomerModel
    transactions: TransactionArrays
    articles_path: Path | None = None
    customers_path: Path | None = None

    def transactions_table(self) -> pa.Table:
        """Transactions as an arrow table: t_dat (date32), customer_id (dictionary-encoded over
        the customers' ids), article_id (int32), price (float64, the value of its text in the
        CSV), sales_channel_id (int8)."""
        t = self.transactions
        ids = self.customers["customer_id"].combine_chunks()
        prices = price_texts().astype(float)
        return pa.table({
            "t_dat": pa.array(self.dates[t.day]),
            "customer_id": pa.DictionaryArray.from_arrays(pa.array(t.customer), ids),
            "article_id": pa.array(self.article_model.article_id[t.article].astype(np.int32)),
            "price": pa.array(prices[t.price]),
            "sales_channel_id": pa.array(t.channel),
        })


def simulate(preset_or_params: str | SynthParams = "tiny", seed: int = 0,
             articles_path: str | Path | None = None, customers_path: str | Path | None = None,
             **overrides) -> SynthWorld:
    """Simulate a data set.  ``overrides`` change SynthParams fields (e.g. ``days=70``,
    ``end_date="2020-09-22"``); a given articles / customers file replaces the generated one."""
    params = resolve(preset_or_params, **overrides)
    if articles_path is not None:
        articles = read_articles(articles_path)
        params = params.replace(n_articles=len(articles))
    else:
        articles = generate_articles(params.n_articles, stream(seed, "articles"))
    if customers_path is not None:
        customers = read_customers(customers_path)
        params = params.replace(n_customers=customers.num_rows)
    else:
        customers = generate_customers(params.n_customers, stream(seed, "customers"))
    _check_columns(list(articles.columns), ARTICLE_COLUMNS, "articles")
    _check_columns(customers.column_names, CUSTOMER_COLUMNS, "customers")

    dates = window_dates(params)
    a_model = article_model(articles, params, stream(seed, "article-model"))
    c_model = customer_model(customers, a_model, params, stream(seed, "customer-model"))
    intensity = daily_intensity(dates, params.trend_per_year)
    visit_day, visit_customer = simulate_visits(c_model, params, intensity, stream(seed, "visits"))
    transactions = simulate_baskets(visit_day, visit_customer, a_model, c_model, params, dates,
                                    stream(seed, "baskets"))
    return SynthWorld(params=params, seed=seed, dates=dates, articles=articles,
                      customers=customers, article_model=a_model, customer_model=c_model,
                      transactions=transactions,
                      articles_path=Path(articles_path) if articles_path else None,
                      customers_path=Path(customers_path) if customers_path else None)


def _check_columns(found: list[str], expected: list[str], what: str) -> None:
    if found != expected:
        raise ValueError(f"{what} file has columns {found}, expected {expected}")
