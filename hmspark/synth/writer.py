"""Writing a simulated data set as the three Kaggle CSV files, in the real files' exact style.

- ``articles.csv``: CRLF line ends, fields quoted only when they contain a comma (as pandas
  writes them by default);
- ``customers.csv`` and ``transactions_train.csv``: LF line ends, nothing quoted.

Transactions are written in chunks: each column is turned into text by looking integer codes up
in small text tables (dates, customer ids, article ids, prices) and the columns are joined in
arrow, so no Python object is created per row.  A given real articles / customers file is copied
byte for byte.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from hmspark.synth.core import SynthWorld, price_texts
from hmspark.synth.customers import CUSTOMER_COLUMNS

ARTICLES_FILE = "articles.csv"
CUSTOMERS_FILE = "customers.csv"
TRANSACTIONS_FILE = "transactions_train.csv"
TRANSACTION_HEADER = "t_dat,customer_id,article_id,price,sales_channel_id\n"
CHUNK_ROWS = 2_000_000


def _write_joined(handle, columns: list[pa.Array]) -> None:
    """Write rows made of the given text columns joined by commas (the last column carries the
    line end)."""
    joined = pc.binary_join_element_wise(*columns, ",")
    offsets = np.frombuffer(joined.buffers()[1], dtype=np.int32,
                            count=len(joined) + 1, offset=joined.offset * 4)
    handle.write(memoryview(joined.buffers()[2])[offsets[0]:offsets[-1]])


def write_articles(world: SynthWorld, path: Path) -> int:
    """Write articles.csv (or copy the given one); returns its number of rows."""
    if world.articles_path is not None:
        shutil.copyfile(world.articles_path, path)
    else:
        world.articles.to_csv(path, index=False, lineterminator="\r\n")
    return len(world.articles)


def write_customers(world: SynthWorld, path: Path) -> int:
    """Write customers.csv (or copy the given one); returns its number of rows."""
    if world.customers_path is not None:
        shutil.copyfile(world.customers_path, path)
        return world.customers.num_rows
    table = world.customers
    with open(path, "wb") as handle:
        handle.write((",".join(CUSTOMER_COLUMNS) + "\n").encode())
        for start in range(0, table.num_rows, CHUNK_ROWS):
            part = table.slice(start, CHUNK_ROWS)
            columns = [part[name].combine_chunks() for name in CUSTOMER_COLUMNS]
            columns[-1] = pc.binary_join_element_wise(columns[-1], pa.scalar("\n"), "")
            _write_joined(handle, columns)
    return table.num_rows


def write_transactions(world: SynthWorld, path: Path) -> int:
    """Write transactions_train.csv in chunks; returns its number of rows."""
    t = world.transactions
    dates = pa.array(np.datetime_as_string(world.dates, unit="D").astype(object))
    customers = world.customers["customer_id"].combine_chunks()
    articles = pa.array(world.article_model.article_id.astype(str).astype(object))
    prices = pa.array(price_texts().astype(object))
    channels = pa.array(["0\n", "1\n", "2\n"])  # indexed by sales_channel_id
    with open(path, "wb") as handle:
        handle.write(TRANSACTION_HEADER.encode())
        for start in range(0, len(t), CHUNK_ROWS):
            rows = slice(start, start + CHUNK_ROWS)
            _write_joined(handle, [dates.take(t.day[rows]), customers.take(t.customer[rows]),
                                   articles.take(t.article[rows]), prices.take(t.price[rows]),
                                   channels.take(t.channel[rows])])
    return len(t)


def write_world(world: SynthWorld, out_dir: str | Path) -> dict[str, int]:
    """Write the three CSV files into ``out_dir``; returns rows written per file."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {
        ARTICLES_FILE: write_articles(world, out / ARTICLES_FILE),
        CUSTOMERS_FILE: write_customers(world, out / CUSTOMERS_FILE),
        TRANSACTIONS_FILE: write_transactions(world, out / TRANSACTIONS_FILE),
    }
