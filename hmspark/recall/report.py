"""Recall report: how much of a known target week the candidates cover.

For a cutoff whose target week (``cutoff < t_dat <= cutoff + 7``, :func:`hmspark.cutoff.target_week`)
is in the data, the target is the set of distinct (customer_key, article_id) bought that week.  One
row per *level*: each source (uncapped, from ``candidate_sources``), ``all_sources`` (their
deduplicated union before the cap), ``union`` (the ``candidates`` table, capped) and ``union@K``
(each customer's candidates with priority <= K).  Per level:

customers                  customers with at least one candidate
candidates                 candidate rows (distinct customer, article)
candidates_per_customer    candidates / customers
target_pairs, hits         |target|, candidates that are in the target
recall, precision          hits / target_pairs, hits / candidates
buyers, buyers_with_hit    customers who bought in the target week, those with >= 1 hit
buyers_hit_share           buyers_with_hit / buyers
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from hmspark.cutoff import as_date, target_week
from hmspark.recall.common import SOURCES

REPORT_SCHEMA = T.StructType([
    T.StructField("cutoff", T.DateType(), False),
    T.StructField("level", T.StringType(), False),
    T.StructField("level_order", T.IntegerType(), False),
    T.StructField("customers", T.LongType(), False),
    T.StructField("candidates", T.LongType(), False),
    T.StructField("candidates_per_customer", T.DoubleType()),
    T.StructField("target_pairs", T.LongType(), False),
    T.StructField("hits", T.LongType(), False),
    T.StructField("recall", T.DoubleType()),
    T.StructField("precision", T.DoubleType()),
    T.StructField("buyers", T.LongType(), False),
    T.StructField("buyers_with_hit", T.LongType(), False),
    T.StructField("buyers_hit_share", T.DoubleType()),
])


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _counts(df: DataFrame, keep=None) -> list:
    """Aggregates of a frame with customer_key, article_id, _hit (true or null), optionally
    restricted by the boolean column ``keep``."""
    cond = keep if keep is not None else F.lit(True)
    return [
        F.count_distinct(F.when(cond, F.col("customer_key"))),
        F.count(F.when(cond, F.lit(1))),
        F.count(F.when(cond & F.col("_hit"), F.lit(1))),
        F.count_distinct(F.when(cond & F.col("_hit"), F.col("customer_key"))),
    ]


def recall_report(candidate_sources: DataFrame, candidates: DataFrame, transactions: DataFrame,
                  cutoff: str | dt.date, cuts: tuple[int, ...] = (12, 50, 100)) -> DataFrame:
    """The report rows (``REPORT_SCHEMA``), one per level, for one cutoff.

    ``candidate_sources`` and ``candidates`` are that cutoff's rows; ``transactions`` the whole
    table (only the target week is read).  Ratios are null when their denominator is 0.
    """
    spark = candidates.sparkSession
    cutoff = as_date(cutoff)
    keys = ["customer_key", "article_id"]
    target = target_week(transactions, cutoff).select(*keys).distinct()
    tot = target.agg(F.count(F.lit(1)).alias("n"),
                     F.count_distinct("customer_key").alias("buyers")).first()
    target_pairs, buyers = int(tot["n"]), int(tot["buyers"])
    hit = target.withColumn("_hit", F.lit(True))

    levels: list[tuple[str, tuple]] = []
    by_source = candidate_sources.select(*keys, "source").join(hit, keys, "left")
    found = {r["source"]: r for r in by_source.groupBy("source").agg(
        *[c.alias(n) for c, n in zip(_counts(by_source), ("c", "n", "h", "b"))]).collect()}
    for name in SOURCES:
        r = found.get(name)
        levels.append((name, (r["c"], r["n"], r["h"], r["b"]) if r else (0, 0, 0, 0)))
    distinct = by_source.select(*keys, "_hit").distinct()
    levels.append(("all_sources", tuple(distinct.agg(*_counts(distinct)).first())))

    cand = candidates.select(*keys, "priority").join(hit, keys, "left")
    names = ["union"] + [f"union@{k}" for k in cuts]
    exprs = _counts(cand)
    for k in cuts:
        exprs += _counts(cand, F.col("priority") <= F.lit(int(k)))
    row = cand.agg(*exprs).first()
    for i, name in enumerate(names):
        levels.append((name, tuple(row[4 * i: 4 * i + 4])))

    out = []
    for order, (name, (customers, n, hits, with_hit)) in enumerate(levels):
        customers, n, hits, with_hit = int(customers), int(n), int(hits), int(with_hit)
        out.append((cutoff, name, order, customers, n, _ratio(n, customers), target_pairs, hits,
                    _ratio(hits, target_pairs), _ratio(hits, n), buyers, with_hit,
                    _ratio(with_hit, buyers)))
    return spark.createDataFrame(out, REPORT_SCHEMA)


def format_report(rows) -> str:
    """An aligned text table of report rows (Rows or dicts, in level order)."""
    rows = [r.asDict() if hasattr(r, "asDict") else dict(r) for r in rows]
    if not rows:
        return "(empty recall report)"
    head = (f"cutoff {rows[0]['cutoff']}: target week {rows[0]['target_pairs']:,} distinct "
            f"(customer, article) purchases by {rows[0]['buyers']:,} customers")
    cols = [("level", "<14", lambda r: r["level"]),
            ("customers", ">11", lambda r: f"{r['customers']:,}"),
            ("cand/cust", ">10", lambda r: _fmt(r["candidates_per_customer"], ".1f")),
            ("candidates", ">13", lambda r: f"{r['candidates']:,}"),
            ("hits", ">9", lambda r: f"{r['hits']:,}"),
            ("recall", ">8", lambda r: _fmt(r["recall"], ".4f")),
            ("precision", ">10", lambda r: _fmt(r["precision"], ".5f")),
            ("buyers_hit", ">11", lambda r: f"{r['buyers_with_hit']:,}"),
            ("share", ">7", lambda r: _fmt(r["buyers_hit_share"], ".3f"))]
    lines = [head, " ".join(f"{name:{fmt}}" for name, fmt, _ in cols)]
    for r in sorted(rows, key=lambda r: r["level_order"]):
        lines.append(" ".join(f"{get(r):{fmt}}" for _, fmt, get in cols))
    return "\n".join(lines)


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)
