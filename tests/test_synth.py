"""Tests of the H&M-like data simulator (hmspark.synth), on the tiny preset only (no Spark).

The realism ranges are the real data's published facts with tolerances wide enough for a
20-week, 4,000-customer world (see docs/synth.md for the facts and the values at each preset).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hmspark.synth import generate, realism_stats, write_kaggle_csvs
from hmspark.synth.__main__ import main as synth_main
from hmspark.synth.catalogue import ARTICLE_COLUMNS
from hmspark.synth.customers import CUSTOMER_COLUMNS
from hmspark.synth.stats import signal_stats

REPO = Path(__file__).resolve().parents[1]
REAL_HEAD = REPO.parent / "shared" / "data" / "hm-real-head"
SEED = 1
FILES = ("articles.csv", "customers.csv", "transactions_train.csv")
HEX64 = re.compile(r"^[0-9a-f]{64}$")
TRANSACTION_HEADER = "t_dat,customer_id,article_id,price,sales_channel_id"


def _read(path: Path) -> pd.DataFrame:
    """A CSV with every value kept as its exact text."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _digest(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in FILES}


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory) -> tuple[Path, str]:
    """The tiny preset written by the command line, and what it printed."""
    out = tmp_path_factory.mktemp("synth_cli")
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    done = subprocess.run([sys.executable, "-m", "hmspark.synth", "--preset", "tiny", "--out",
                           str(out), "--seed", str(SEED)],
                          cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return out, done.stdout


@pytest.fixture(scope="module")
def tables(cli_run) -> dict[str, pd.DataFrame]:
    out, _ = cli_run
    return {name: _read(out / name) for name in FILES}


@pytest.fixture(scope="module")
def stats(tables) -> dict:
    return realism_stats(tables["transactions_train.csv"], tables["customers.csv"],
                         tables["articles.csv"])


# --------------------------------------------------------------------------------------------
# formats
# --------------------------------------------------------------------------------------------

def test_cli_prints_rows_written(cli_run, tables):
    _, printed = cli_run
    for name, df in tables.items():
        assert f"{name}: {len(df):,} rows" in printed
    assert re.search(r"simulated in [\d.]+ s, written in [\d.]+ s", printed)


def test_headers_and_line_ends_match_the_real_files(cli_run):
    out, _ = cli_run
    articles = (out / "articles.csv").read_bytes()
    assert articles.startswith((",".join(ARTICLE_COLUMNS) + "\r\n").encode())
    assert articles.count(b"\n") == articles.count(b"\r\n")  # CRLF everywhere, like the real file
    customers = (out / "customers.csv").read_bytes()
    assert customers.startswith((",".join(CUSTOMER_COLUMNS) + "\n").encode())
    transactions = (out / "transactions_train.csv").read_bytes()
    assert transactions.startswith((TRANSACTION_HEADER + "\n").encode())
    assert b"\r" not in customers and b"\r" not in transactions


def test_articles_format(cli_run, tables):
    articles = tables["articles.csv"]
    assert list(articles.columns) == ARTICLE_COLUMNS
    assert articles["article_id"].str.fullmatch(r"0\d{9}").all()
    assert articles["product_code"].str.fullmatch(r"0\d{6}").all()
    assert (articles["article_id"].str[:7] == articles["product_code"]).all()
    assert articles["article_id"].is_unique
    assert articles["article_id"].is_monotonic_increasing
    variants = articles.groupby("product_code")
    assert (variants.size() > 1).mean() > 0.2  # colour variants share a product code
    shared = variants[["prod_name", "product_type_name", "index_name", "detail_desc"]].nunique()
    assert (shared["product_type_name"] == 1).all() and (shared["index_name"] == 1).all()
    assert articles["colour_group_name"].nunique() > 10
    # fields with a comma are quoted, nothing else is: every row parses to 25 fields
    with open(cli_run[0] / "articles.csv", newline="") as handle:
        raw = handle.read()
    assert all(len(row) == 25 for row in csv.reader(io.StringIO(raw)))
    assert articles["detail_desc"].str.contains(",").any()
    assert '"' in raw and all(line.count('"') % 2 == 0 for line in raw.split("\r\n"))


def test_customers_format(tables):
    customers = tables["customers.csv"]
    assert customers["customer_id"].str.fullmatch(HEX64).all()
    assert customers["customer_id"].is_unique and customers["customer_id"].is_monotonic_increasing
    assert customers["postal_code"].str.fullmatch(HEX64).all()
    assert set(customers["FN"]) <= {"1.0", ""} and set(customers["Active"]) <= {"1.0", ""}
    assert set(customers["club_member_status"]) <= {"ACTIVE", "PRE-CREATE", "LEFT CLUB", ""}
    assert set(customers["fashion_news_frequency"]) <= {"NONE", "Regularly", "Monthly", "None", ""}
    assert {"NONE", "Regularly"} <= set(customers["fashion_news_frequency"])
    assert customers["age"].str.fullmatch(r"(\d{2}\.0)?").all()
    age = pd.to_numeric(customers["age"].replace("", np.nan))
    assert 0.002 < age.isna().mean() < 0.05
    assert 16 <= age.min() and age.max() <= 99
    counts = age.value_counts().reindex(range(16, 100), fill_value=0)
    young, trough, older = (counts.loc[20:25].mean(), counts.loc[30:35].mean(),
                            counts.loc[47:53].mean())
    assert young > 2 * trough and older > 1.2 * trough  # peaks near 22 and 50


def test_transactions_format(tables):
    transactions = tables["transactions_train.csv"]
    articles, customers = tables["articles.csv"], tables["customers.csv"]
    assert list(transactions.columns) == TRANSACTION_HEADER.split(",")
    assert transactions["article_id"].str.fullmatch(r"[1-9]\d{8}").all()  # no leading zero
    assert transactions["article_id"].str.zfill(10).isin(articles["article_id"]).all()
    assert transactions["customer_id"].str.fullmatch(HEX64).all()
    assert transactions["customer_id"].isin(customers["customer_id"]).all()
    dates = pd.to_datetime(transactions["t_dat"], format="%Y-%m-%d")
    assert dates.max() == pd.Timestamp("2020-09-22")
    assert (dates.max() - dates.min()).days == 139
    assert set(transactions["sales_channel_id"]) == {"1", "2"}
    assert transactions["price"].str.fullmatch(r"0\.\d{1,16}").all()
    price = transactions["price"].astype(float)
    assert price.min() > 0.00001 and price.max() < 0.6
    # sorted by date, and within a date grouped (sorted) by customer
    order = list(zip(transactions["t_dat"], transactions["customer_id"]))
    assert order == sorted(order)


def test_prices_are_near_the_article_base_price(tables):
    transactions = tables["transactions_train.csv"]
    price = transactions["price"].astype(float)
    typical = price.groupby(transactions["article_id"]).transform("max")
    assert ((price / typical) > 0.9).mean() > 0.75  # most sales at (about) the base price
    assert ((price / typical) < 0.8).mean() > 0.02  # and some markdowns
    # prices are whole price points minus 0.01 (x.99), as most real prices are
    cents = np.round(price * 59000).astype(int)
    assert (cents % 100 == 99).mean() > 0.8


# --------------------------------------------------------------------------------------------
# reproducibility and the Python API
# --------------------------------------------------------------------------------------------

def test_same_seed_gives_identical_files(cli_run, tmp_path):
    out, _ = cli_run
    counts = write_kaggle_csvs(tmp_path, "tiny", seed=SEED)
    assert _digest(tmp_path) == _digest(out)
    assert counts == {name: len(_read(out / name)) for name in FILES}


def test_different_seed_gives_different_files(cli_run, tmp_path):
    write_kaggle_csvs(tmp_path, "tiny", seed=SEED + 1)
    mine, other = _digest(cli_run[0]), _digest(tmp_path)
    assert all(mine[name] != other[name] for name in FILES)


def test_generate_returns_the_written_tables(tables):
    articles, customers, transactions = generate("tiny", seed=SEED)
    assert articles.equals(tables["articles.csv"])
    assert customers.to_pandas().equals(tables["customers.csv"])
    written = tables["transactions_train.csv"]
    assert transactions.num_rows == len(written)
    assert (transactions["article_id"].to_numpy() == written["article_id"].astype(int)).all()
    assert (transactions["customer_id"].to_pandas().astype(str) == written["customer_id"]).all()
    assert np.allclose(transactions["price"].to_numpy(), written["price"].astype(float), rtol=0)


def test_end_date_and_weeks_options(tmp_path, capsys):
    assert synth_main(["--preset", "tiny", "--out", str(tmp_path), "--weeks", "6",
                       "--end-date", "2019-12-31", "--seed", "3"]) == 0
    dates = pd.to_datetime(_read(tmp_path / "transactions_train.csv")["t_dat"])
    assert dates.max() == pd.Timestamp("2019-12-31") and dates.min() == pd.Timestamp("2019-11-20")
    assert "transactions_train.csv" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# realism
# --------------------------------------------------------------------------------------------

def test_stats_are_the_same_from_csv_text_and_from_the_api(stats):
    articles, customers, transactions = generate("tiny", seed=SEED)
    again = realism_stats(transactions, customers, articles)
    assert again == pytest.approx(stats)


def test_coverage_channels_duplicates_and_prices(stats):
    assert stats["days"] == 140 and stats["last_date"] == "2020-09-22"
    assert stats["customers_buying_share"] > 0.97  # real 0.993
    assert stats["articles_sold_share"] > 0.75  # real 0.991 (a small world sells less of it)
    assert 0.6 < stats["online_share"] < 0.8  # real 0.704
    assert 0.03 < stats["duplicate_share"] < 0.2  # real 0.094
    assert stats["price_min"] >= 1 / 59000 and stats["price_max"] < 0.6  # real 0.00002 / 0.59
    assert 0.018 < stats["price_mean"] < 0.04  # real 0.028


def test_weekly_buying_pattern(stats):
    assert 0.02 < stats["week_buyer_share"] < 0.2  # real 0.054 (a short window buys more)
    assert 2.5 < stats["rows_per_buyer_week"] < 5  # real 3.5
    assert 2.2 < stats["articles_per_buyer_week"] < stats["rows_per_buyer_week"]  # real 3.1
    assert stats["single_date_pair_share"] > 0.85  # real 0.96
    assert 0.75 < stats["week_articles_sold_30d_before"] < 0.99  # real 0.92


def test_recency_of_returning_buyers(stats):
    last, four, thirteen = (stats["returning_bought_last_week"],
                            stats["returning_bought_4_weeks"],
                            stats["returning_bought_13_weeks"])
    assert 0.1 < last < 0.4 and 0.3 < four < 0.75 and 0.6 < thirteen < 0.99  # real .20 .48 .81
    assert last < four < thirteen
    assert 0.02 < stats["first_purchase_row_share"] < 0.35  # real 0.075 over 2 years
    assert 0.1 < stats["inactive_13_weeks_share"] < 0.7  # real 0.5 over 2 years


def test_popularity_is_heavy_tailed_and_colour_variants_are_bought_together(tables):
    transactions, articles = tables["transactions_train.csv"], tables["articles.csv"]
    sales = transactions["article_id"].value_counts()
    top = sales.iloc[: max(1, len(articles) // 100)].sum() / sales.sum()
    assert top > 0.08  # the top 1% of articles sell far more than 1% of units
    baskets = transactions.drop_duplicates(["t_dat", "customer_id", "article_id"]).assign(
        product=lambda df: df["article_id"].str[:-3])
    per_basket = baskets.groupby(["t_dat", "customer_id"]).agg(
        n=("article_id", "size"), products=("product", "nunique"))
    multi = per_basket[per_basket["n"] > 1]
    assert (multi["products"] < multi["n"]).mean() > 0.05  # two colours of one product


def test_history_predicts_next_week_better_than_popularity(tables):
    signal = signal_stats(tables["transactions_train.csv"])
    assert 0 < signal["map_popular"] < signal["map_repurchase"]
    assert signal["map_together"] > signal["map_popular"]


# --------------------------------------------------------------------------------------------
# a real catalogue and customer base
# --------------------------------------------------------------------------------------------

def test_real_articles_and_customers_are_used_as_given(tmp_path, capsys):
    if not REAL_HEAD.is_dir():
        pytest.skip(f"real H&M sample files not found at {REAL_HEAD}")
    real_articles, real_customers = REAL_HEAD / "articles.csv", REAL_HEAD / "customers.csv"
    assert synth_main(["--preset", "tiny", "--out", str(tmp_path), "--seed", str(SEED),
                       "--articles", str(real_articles), "--customers", str(real_customers)]) == 0
    capsys.readouterr()
    assert (tmp_path / "articles.csv").read_bytes() == real_articles.read_bytes()
    assert (tmp_path / "customers.csv").read_bytes() == real_customers.read_bytes()
    transactions = _read(tmp_path / "transactions_train.csv")
    article_ids = set(_read(real_articles)["article_id"])
    customer_ids = set(_read(real_customers)["customer_id"])
    assert transactions["article_id"].str.zfill(10).isin(article_ids).all()
    assert transactions["customer_id"].isin(customer_ids).all()
    assert transactions["customer_id"].nunique() > 0.97 * len(customer_ids)
    assert transactions["article_id"].nunique() > 0.5 * len(article_ids)
