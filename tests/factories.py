"""Small hand-made tables with the warehouse schemas, for tests."""

from __future__ import annotations

import datetime as dt

from hmspark import schema as S


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def transactions_df(spark, rows):
    """rows: (t_dat 'yyyy-mm-dd', customer_key, article_id[, price[, channel]]); week left 0."""
    full = []
    for r in rows:
        t, c, a = r[0], r[1], r[2]
        price = r[3] if len(r) > 3 else 0.02
        channel = r[4] if len(r) > 4 else 2
        full.append((d(t), int(c), int(a), float(price), int(channel), 0))
    return spark.createDataFrame(full, S.TRANSACTIONS_SCHEMA)


def articles_df(spark, rows):
    """rows: dicts with at least article_id; other columns default to small fixed values."""
    defaults = {name: (0 if "Integer" in str(t) else "x") for name, t in S.ARTICLE_COLUMNS.items()}
    out = []
    for r in rows:
        rec = dict(defaults)
        rec["product_code"] = r["article_id"] // 1000
        rec.update(r)
        out.append(tuple(rec[n] for n in S.ARTICLE_COLUMNS))
    return spark.createDataFrame(out, S.ARTICLES_SCHEMA)


def customers_df(spark, rows):
    """rows: (customer_key, age or None)."""
    out = [(f"{k:064x}", int(k), None, None, "ACTIVE", "NONE", age, None, True) for k, age in rows]
    return spark.createDataFrame(out, S.CUSTOMERS_SCHEMA)
