"""Realism statistics: the published facts of the real H&M data, measured on any data set.

`realism_stats` takes the three tables (pandas or arrow; transactions as read from the CSV or as
`SynthWorld.transactions_table`) and returns a flat dict.  Weeks are 7-day blocks ending on the
last date (week 1 = the last 7 days).  `REAL` holds the values of the real data and `format_table`
prints a side-by-side comparison.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

LAST_WEEKS = 4

# Published facts of the real data (same keys as realism_stats).
REAL: dict[str, float | str] = {
    "rows": 31_788_324, "first_date": "2018-09-20", "last_date": "2020-09-22", "days": 734,
    "customers": 1_371_980, "articles": 105_542,
    "customers_buying_share": 1_362_281 / 1_371_980, "articles_sold_share": 104_547 / 105_542,
    "online_share": 0.704, "duplicate_share": 0.094,
    "week_rows": 260_750, "week_buyers": 74_250, "week_buyer_share": 0.054,
    "rows_per_buyer_week": 3.5, "articles_per_buyer_week": 3.1, "week_articles": 19_400,
    "single_date_pair_share": 0.96, "week_articles_sold_30d_before": 0.92,
    "returning_bought_last_week": 0.20, "returning_bought_4_weeks": 0.48,
    "returning_bought_13_weeks": 0.81, "first_purchase_row_share": 0.075,
    "inactive_13_weeks_share": 0.5,
    "price_min": 0.0000169, "price_mean": 0.0278, "price_max": 0.5915,
}

DESCRIPTIONS = {
    "rows": "transaction rows",
    "first_date": "first date", "last_date": "last date", "days": "days in the window",
    "customers": "customers in customers.csv", "articles": "articles in articles.csv",
    "customers_buying_share": "share of customers with a transaction",
    "articles_sold_share": "share of articles with a transaction",
    "online_share": "share of rows online (channel 2)",
    "duplicate_share": "share of rows duplicating another row",
    "week_rows": "rows per week (last 4 weeks, mean)",
    "week_buyers": "buying customers per week",
    "week_buyer_share": "buying customers per week / all customers",
    "rows_per_buyer_week": "rows per buying customer-week",
    "articles_per_buyer_week": "distinct articles per buying customer-week",
    "week_articles": "distinct articles sold per week",
    "single_date_pair_share": "customer-article pairs bought on a single date",
    "week_articles_sold_30d_before": "articles sold in a week also sold in the 30 days before",
    "returning_bought_last_week": "returning buyers who bought in the previous week",
    "returning_bought_4_weeks": "... within 4 weeks",
    "returning_bought_13_weeks": "... within 13 weeks",
    "first_purchase_row_share": "share of a week's rows from first-time buyers",
    "inactive_13_weeks_share": "customers with no purchase in the last 13 weeks",
    "price_min": "price min", "price_mean": "price mean", "price_max": "price max",
}


def _column(table, name: str) -> pa.Array:
    if isinstance(table, pd.DataFrame):
        return pa.Array.from_pandas(table[name])
    column = table[name]
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _days(column: pa.Array) -> pa.Array:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = pc.cast(column, pa.date32())
    if pa.types.is_timestamp(column.type):
        column = pc.cast(column, pa.date32())
    return pc.cast(column, pa.int32())


def _codes(column: pa.Array) -> pa.Array:
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    return pc.cast(column.indices, pa.int32())


def _compact(transactions) -> pa.Table:
    """Transactions reduced to integers: d (days since 1970), c (customer code), a (article),
    p (price), ch (channel)."""
    article = _column(transactions, "article_id")
    if pa.types.is_string(article.type):
        article = pc.cast(article, pa.int64())
    return pa.table({
        "d": _days(_column(transactions, "t_dat")),
        "c": _codes(_column(transactions, "customer_id")),
        "a": pc.cast(article, pa.int64()),
        "p": pc.cast(_column(transactions, "price"), pa.float64()),
        "ch": pc.cast(_column(transactions, "sales_channel_id"), pa.int8()),
    })


def _connect(transactions: pa.Table) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.register("t", transactions)
    return con


def _one(con, sql: str) -> tuple:
    return con.execute(sql).fetchone()


def _week_stats(con, last: int, n_customers: int) -> dict[str, float]:
    """Statistics of the last weeks, averaged over LAST_WEEKS weeks."""
    rows = []
    for k in range(1, LAST_WEEKS + 1):
        lo, hi = last - 7 * k + 1, last - 7 * (k - 1)
        week = f"d BETWEEN {lo} AND {hi}"
        n_rows, buyers, articles, pairs = _one(
            con, f"SELECT count(*), count(DISTINCT c), count(DISTINCT a), "
                 f"count(DISTINCT (c, a)) FROM t WHERE {week}")
        continued = _one(con, f"""
            SELECT avg((a IN (SELECT a FROM t WHERE d BETWEEN {lo - 30} AND {lo - 1}))::INT)
            FROM (SELECT DISTINCT a FROM t WHERE {week})""")[0]
        recency = _one(con, f"""
            WITH buyers AS (SELECT c, count(*) n FROM t WHERE {week} GROUP BY c),
                 before AS (SELECT c, max(d) last_d FROM t WHERE d < {lo} GROUP BY c)
            SELECT avg((last_d >= {lo - 7})::INT) FILTER (WHERE last_d IS NOT NULL),
                   avg((last_d >= {lo - 28})::INT) FILTER (WHERE last_d IS NOT NULL),
                   avg((last_d >= {lo - 91})::INT) FILTER (WHERE last_d IS NOT NULL),
                   sum(n) FILTER (WHERE last_d IS NULL) / sum(n)
            FROM buyers LEFT JOIN before USING (c)""")
        rows.append({
            "week_rows": n_rows, "week_buyers": buyers, "week_buyer_share": buyers / n_customers,
            "rows_per_buyer_week": n_rows / buyers, "articles_per_buyer_week": pairs / buyers,
            "week_articles": articles, "week_articles_sold_30d_before": continued,
            "returning_bought_last_week": recency[0], "returning_bought_4_weeks": recency[1],
            "returning_bought_13_weeks": recency[2], "first_purchase_row_share": recency[3],
        })
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def realism_stats(transactions, customers, articles) -> dict[str, float | str]:
    """The realism statistics of a data set (keys and meaning: `DESCRIPTIONS`, real values:
    `REAL`)."""
    n_customers, n_articles = len(customers), len(articles)
    con = _connect(_compact(transactions))
    n_rows, first, last, buyers, sold, online, p_min, p_mean, p_max = _one(
        con, "SELECT count(*), min(d), max(d), count(DISTINCT c), count(DISTINCT a), "
             "avg((ch = 2)::INT), min(p), avg(p), max(p) FROM t")
    distinct_rows = _one(con, "SELECT count(*) FROM (SELECT DISTINCT d, c, a, p, ch FROM t)")[0]
    single = _one(con, "SELECT avg((n = 1)::INT) FROM "
                       "(SELECT count(DISTINCT d) n FROM t GROUP BY c, a)")[0]
    recent = _one(con, f"SELECT count(DISTINCT c) FROM t WHERE d > {last - 91}")[0]
    stats: dict[str, float | str] = {
        "rows": n_rows,
        "first_date": str(np.datetime64(int(first), "D")),
        "last_date": str(np.datetime64(int(last), "D")),
        "days": int(last - first + 1),
        "customers": n_customers, "articles": n_articles,
        "customers_buying_share": buyers / n_customers, "articles_sold_share": sold / n_articles,
        "online_share": online, "duplicate_share": 1 - distinct_rows / n_rows,
    }
    stats.update(_week_stats(con, last, n_customers))
    stats.update({
        "single_date_pair_share": single,
        "inactive_13_weeks_share": 1 - recent / n_customers,
        "price_min": p_min, "price_mean": p_mean, "price_max": p_max,
    })
    con.close()
    return {key: stats[key] for key in REAL}


def _fmt(value) -> str:
    if isinstance(value, str):
        return value
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) < 0.001:
        return f"{value:.7f}"
    return f"{value:.3f}"


def format_table(columns: dict[str, dict]) -> str:
    """A markdown table of statistics, one column per data set (e.g. {"real": REAL, ...})."""
    names = list(columns)
    lines = ["| statistic | " + " | ".join(names) + " |",
             "|---|" + "---:|" * len(names)]
    for key, text in DESCRIPTIONS.items():
        cells = [_fmt(columns[name][key]) if key in columns[name] else "" for name in names]
        lines.append(f"| {text} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Learnable signal
# ---------------------------------------------------------------------------------------------

def _average_precision(predictions: pd.DataFrame, truth: pd.DataFrame, k: int) -> float:
    """MAP@k over the customers in ``truth`` (columns c, a); ``predictions`` has c, a, r (rank
    from 1, distinct articles per customer)."""
    hits = predictions[predictions["r"] <= k].merge(truth, on=["c", "a"])
    hits = hits.sort_values(["c", "r"])
    hits["precision"] = (hits.groupby("c").cumcount() + 1) / hits["r"]
    per_customer = hits.groupby("c")["precision"].sum()
    wanted = np.minimum(truth.groupby("c").size(), k)
    return float((per_customer.reindex(wanted.index, fill_value=0.0) / wanted).mean())


def signal_stats(transactions, k: int = 12) -> dict[str, float]:
    """How predictable the last week is from the weeks before, as MAP@k over its buyers:

    - ``map_popular``: everyone gets the k best sellers of the previous week;
    - ``map_repurchase``: the customer's own purchases of the previous 4 weeks (most recent
      first), then the best sellers;
    - ``map_together``: the same, then articles often bought on the same day as those purchases
      (by anyone, in the previous 8 weeks), then the best sellers.

    A recommender has something to learn when the personal lists beat the popular one."""
    con = _connect(_compact(transactions))
    last = _one(con, "SELECT max(d) FROM t")[0]
    start = last - 6
    truth = con.execute(f"SELECT DISTINCT c, a FROM t WHERE d >= {start}").df()
    popular = con.execute(f"""SELECT a, row_number() OVER (ORDER BY count(*) DESC, a) r FROM t
                              WHERE d BETWEEN {start - 7} AND {start - 1} GROUP BY a
                              ORDER BY r LIMIT {k}""").df()
    con.execute(f"""CREATE TABLE recent AS
        SELECT c, a, max(d) last_d, count(*) n FROM t
        WHERE d BETWEEN {start - 28} AND {start - 1} AND c IN (SELECT c FROM truth)
        GROUP BY c, a""")
    con.execute(f"""CREATE TABLE pairs AS
        WITH b AS (SELECT DISTINCT d, c, a FROM t WHERE d BETWEEN {start - 56} AND {start - 1})
        SELECT x.a src, y.a dst, count(*) n FROM b x JOIN b y USING (d, c)
        WHERE x.a <> y.a GROUP BY ALL""")
    con.execute(f"""CREATE TABLE together AS
        SELECT c, dst a, sum(p.n) score FROM recent JOIN pairs p ON recent.a = p.src
        GROUP BY c, dst
        QUALIFY row_number() OVER (PARTITION BY c ORDER BY score DESC, dst) <= {k}""")
    con.register("popular", popular)
    results = {}
    for name, sources in {"repurchase": ["recent"], "together": ["recent", "together"]}.items():
        parts = ["SELECT c, a, 0 AS src, -last_d AS key FROM recent"]
        if "together" in sources:
            parts.append("SELECT c, a, 1, -score FROM together")
        parts.append("SELECT c, p.a, 2, p.r FROM (SELECT DISTINCT c FROM truth) "
                     "CROSS JOIN popular p")
        predictions = con.execute(f"""
            WITH candidates AS ({' UNION ALL '.join(parts)}),
                 best AS (SELECT c, a, min(src * 1e9 + key) o FROM candidates GROUP BY c, a)
            SELECT c, a, row_number() OVER (PARTITION BY c ORDER BY o, a) r FROM best""").df()
        results[f"map_{name}"] = _average_precision(predictions, truth, k)
    everyone = truth[["c"]].drop_duplicates().merge(popular, how="cross")
    results = {"map_popular": _average_precision(everyone, truth, k), **results}
    con.close()
    return results
