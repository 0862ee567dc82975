"""One self-contained HTML page (images embedded as PNG data URIs) for a manager: the data, how the
recommendations score, and who the customers are.

    write_report(spark, warehouse, output_dir) -> output_dir/report.html

Sections, each from the tables (and ``output_dir/metrics.json``) that the jobs write:

=================  ==========================================================================
overview           transactions, customers, articles, quarantine: rows, date span, weekly sales
recall             recall per candidate source (``recall_report``, or computed from
                   ``candidate_sources`` and ``candidates`` when the target week is known)
map                MAP@12 of the ranker and of the baselines (``metrics.json``)
importance         the ranker's feature importances, gain (``metrics.json``)
map-by-segment     MAP@12 of ``recommendations`` per RFM segment and cluster (segments as of the
                   recommendations' cutoff, so nothing after it is used)
segments           segment sizes, the RFM grid, the k-means choice and clusters
preferences        heatmaps of category preference lift, the top preferences per segment
cltv               expected value per segment (distribution and totals), the holdout check
=================  ==========================================================================

Every section degrades on its own: when its input is missing the page says which job to run
(class ``missing``) and the other sections are still drawn.  The report's cutoff is, in order: the
one given, the backtest's (``metrics.json``), the newest of ``recommendations``, the last
transaction date; a table without that cutoff is shown at its newest cutoff, and the page says so.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from hmspark.config import Settings
from hmspark.cutoff import TARGET_DAYS, as_date, last_date, target_week
from hmspark.insights import plots
from hmspark.insights.build import (CLTV_HOLDOUT_TABLE, CLTV_MODELS_TABLE, CLTV_SEGMENTS_TABLE,
                                    CLTV_TABLE, CLUSTERS_TABLE, K_SCORES_TABLE, PREFERENCES_TABLE,
                                    SEGMENTS_TABLE, segment_label_frames)
from hmspark.insights.preferences import PRICE_BAND, PRICE_BANDS, top_preferences
from hmspark.insights.segments import NOT_CLUSTERED, NOT_IN_WINDOW, NO_PURCHASE, segment_order
from hmspark.metrics import K, per_customer_scores
from hmspark.tables import read_table, table_exists

log = logging.getLogger("hmspark.insights")

REPORT_FILE = "report.html"
METRICS_FILE = "metrics.json"
MAX_BOX_POINTS = 200_000
NOT_SEGMENTS = {NO_PURCHASE, NOT_IN_WINDOW, NOT_CLUSTERED, "unknown"}


class Missing(Exception):
    """A section's input is not there; the message says what to run."""


@dataclass
class Context:
    spark: SparkSession
    warehouse: str
    output_dir: Path
    settings: Settings
    metrics: dict | None
    cutoff: dt.date | None
    notes: list[str] = field(default_factory=list)

    def table(self, name: str, hint: str) -> DataFrame:
        if not table_exists(self.spark, self.warehouse, name):
            raise Missing(f"no {name} table in the warehouse: {hint}")
        return read_table(self.spark, self.warehouse, name)

    def at_cutoff(self, name: str, hint: str) -> tuple[DataFrame, dt.date]:
        """A cutoff-partitioned table's rows of the report's cutoff, else of its newest cutoff."""
        df = self.table(name, hint)
        cutoffs = sorted(r[0] for r in df.select("cutoff").distinct().collect())
        if not cutoffs:
            raise Missing(f"the {name} table is empty: {hint}")
        use = self.cutoff if self.cutoff in cutoffs else cutoffs[-1]
        return df.filter(F.col("cutoff") == F.lit(use)), use


# ----------------------------------------------------------------------------------------------
# HTML helpers


def esc(value) -> str:
    return html.escape(str(value))


def fmt(value, spec: str = "") -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return format(value, spec)


def img(data: bytes, alt: str) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return f'<figure><img src="data:image/png;base64,{b64}" alt="{esc(alt)}"></figure>'


def table(headers: list[str], rows: list[list], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="{"num" if i >= numeric_from else "txt"}">{esc(c)}</td>'
                         for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def para(text: str, cls: str = "") -> str:
    return f'<p{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}>{esc(text)}</p>'


def as_of(used: dt.date, ctx: Context) -> str:
    if ctx.cutoff is not None and used != ctx.cutoff:
        return para(f"As of {used} (the newest cutoff in the table; the report's cutoff is "
                    f"{ctx.cutoff}).", "note")
    return para(f"As of {used}.", "note")


# ----------------------------------------------------------------------------------------------
# Sections


def overview(ctx: Context) -> list[str]:
    tx = ctx.table("transactions", "run jobs/ingest.py")
    row = tx.agg(F.count(F.lit(1)).alias("rows"), F.min("t_dat").alias("first"),
                 F.max("t_dat").alias("last"), F.count_distinct("customer_key").alias("buyers"),
                 F.count_distinct("article_id").alias("articles_sold"),
                 F.sum("price").alias("revenue")).first()
    if not row["rows"]:
        raise Missing("the transactions table is empty")
    counts = [["transactions (units)", f"{row['rows']:,}"],
              ["date span", f"{row['first']} .. {row['last']} "
                            f"({(row['last'] - row['first']).days + 1} days)"],
              ["customers who bought", f"{row['buyers']:,}"],
              ["articles sold", f"{row['articles_sold']:,}"],
              ["revenue (price units)", f"{row['revenue']:,.2f}"]]
    for name in ("customers", "articles", "quarantine"):
        if table_exists(ctx.spark, ctx.warehouse, name):
            counts.append([f"{name} table rows",
                           f"{read_table(ctx.spark, ctx.warehouse, name).count():,}"])
    weeks = (tx.groupBy("week").agg(F.count(F.lit(1)).alias("units"),
                                    F.sum("price").alias("revenue"),
                                    F.count_distinct("customer_key").alias("buyers"))
             .orderBy(F.desc("week")).toPandas())
    weeks["week_start"] = [row["last"] - dt.timedelta(days=7 * int(w) + 6) for w in weeks["week"]]
    parts = [table(["", "value"], counts)]
    if len(weeks) >= 2:
        parts.append(img(plots.weekly_sales(weeks), "weekly sales"))
    else:
        parts.append(table(["week starting", "units", "buyers", "revenue"],
                           [[str(r.week_start), f"{r.units:,}", f"{r.buyers:,}",
                             f"{r.revenue:,.2f}"] for r in weeks.itertuples()]))
        parts.append(para("One week of data: no weekly curve to draw.", "note"))
    return parts


def recall(ctx: Context) -> list[str]:
    from hmspark.recall.report import recall_report

    if ctx.cutoff is None:
        raise Missing("no cutoff: no transactions")
    hint = (f"run jobs/candidates.py --cutoff {ctx.cutoff} --evaluate "
            f"(or the pipeline with --as-of)")
    rows = None
    if table_exists(ctx.spark, ctx.warehouse, "recall_report"):
        df = read_table(ctx.spark, ctx.warehouse, "recall_report")
        rows = df.filter(F.col("cutoff") == F.lit(ctx.cutoff)).orderBy("level_order").collect()
    source = "recall_report"
    if not rows:
        tx = ctx.table("transactions", "run jobs/ingest.py")
        if last_date(tx) < ctx.cutoff + dt.timedelta(days=TARGET_DAYS):
            raise Missing(f"no recall report: the week after {ctx.cutoff} is not in the data, so "
                          f"candidate recall cannot be measured ({hint} on an earlier cutoff)")
        for name in ("candidate_sources", "candidates"):
            if not table_exists(ctx.spark, ctx.warehouse, name):
                raise Missing(f"no recall report: no {name} table ({hint})")
        sources = read_table(ctx.spark, ctx.warehouse, "candidate_sources") \
            .filter(F.col("cutoff") == F.lit(ctx.cutoff))
        cands = read_table(ctx.spark, ctx.warehouse, "candidates") \
            .filter(F.col("cutoff") == F.lit(ctx.cutoff))
        if not cands.limit(1).count():
            raise Missing(f"no recall report: no candidates for cutoff {ctx.cutoff} ({hint})")
        rows = recall_report(sources, cands, tx, ctx.cutoff,
                             tuple(ctx.settings.recall.report_cuts)).orderBy("level_order").collect()
        source = "candidate_sources and candidates (computed for this page)"
    r0 = rows[0]
    parts = [para(f"Cutoff {ctx.cutoff}: the target week has {r0['target_pairs']:,} distinct "
                  f"(customer, article) purchases by {r0['buyers']:,} customers. Recall = share of "
                  f"them among the candidates. Source: {source}.", "note")]
    levels = [r["level"] for r in rows]
    parts.append(img(plots.hbar(levels, [r["recall"] or 0.0 for r in rows],
                                "Recall of the target week per candidate source", "recall"),
                     "recall per candidate source"))
    parts.append(table(["level", "customers", "candidates / customer", "hits", "recall",
                        "precision", "buyers with a hit"],
                       [[r["level"], f"{r['customers']:,}", fmt(r["candidates_per_customer"], ".1f"),
                         f"{r['hits']:,}", fmt(r["recall"], ".4f"), fmt(r["precision"], ".5f"),
                         fmt(r["buyers_hit_share"], ".1%")] for r in rows]))
    return parts


def _metrics(ctx: Context) -> dict:
    if not ctx.metrics:
        raise Missing(f"no {METRICS_FILE} in {ctx.output_dir}: run the pipeline with --as-of "
                      f"(a backtest) to score the ranker against the baselines")
    return ctx.metrics


def map_scores(ctx: Context) -> list[str]:
    m = _metrics(ctx)
    scores = m.get("metrics") or {}
    if not scores:
        raise Missing(f"{METRICS_FILE} holds no scores")
    names = sorted(scores, key=lambda n: -scores[n]["map_at_k"])
    parts = [para(f"Backtest of the 7 days after {m.get('cutoff')}; the pipeline ranked with "
                  f"the {m.get('mode')}.", "note")]
    parts.append(img(plots.hbar(names, [scores[n]["map_at_k"] for n in names],
                                f"MAP@{K}: ranker vs baselines", f"MAP@{K}",
                                highlight=m.get("mode"), fmt="{:.5f}"), "MAP@12 by ranking"))
    parts.append(table(["ranking", f"MAP@{K}", f"recall@{K}", f"precision@{K}", "buyers"],
                       [[n, fmt(scores[n]["map_at_k"], ".5f"), fmt(scores[n]["recall_at_k"], ".4f"),
                         fmt(scores[n]["precision_at_k"], ".4f"), f"{scores[n]['buyers']:,}"]
                        for n in names]))
    return parts


def importance(ctx: Context, top: int = 20) -> list[str]:
    m = _metrics(ctx)
    gain = m.get("feature_importance_gain") or {}
    if not gain:
        raise Missing(f"no feature importances: the pipeline ranked with the {m.get('mode')} "
                      f"(no model was trained: too little labelled history)")
    items = sorted(gain.items(), key=lambda kv: -kv[1])[:top]
    total = sum(gain.values()) or 1.0
    return [img(plots.hbar([k for k, _ in items], [v / total for _, v in items],
                           f"Feature importance (share of the total gain), top {len(items)}",
                           "share of gain", fmt="{:.1%}"), "feature importances"),
            table(["feature", "gain", "share"],
                  [[k, f"{v:,.1f}", f"{v / total:.1%}"] for k, v in items])]


def map_by_segment(ctx: Context) -> list[str]:
    recs_all = ctx.table("recommendations", "run the pipeline")
    cutoffs = sorted(r[0] for r in recs_all.select("cutoff").distinct().collect())
    if not cutoffs:
        raise Missing("the recommendations table is empty: run the pipeline")
    cutoff = ctx.cutoff if ctx.cutoff in cutoffs else cutoffs[-1]
    tx = ctx.table("transactions", "run jobs/ingest.py")
    if last_date(tx) < cutoff + dt.timedelta(days=TARGET_DAYS):
        raise Missing(f"the week after the recommendations' cutoff {cutoff} is not in the data: "
                      f"MAP@{K} by segment needs a backtest (pipeline --as-of)")
    recs = recs_all.filter(F.col("cutoff") == F.lit(cutoff))
    actual = target_week(tx, cutoff).select("customer_key", "article_id")
    scores = per_customer_scores(recs, actual).persist()
    labels = segment_label_frames(ctx.spark, ctx.warehouse, cutoff, tx, ctx.settings.segments)
    overall = scores.agg(F.avg("ap"), F.count(F.lit(1))).first()
    parts = [para(f"Recommendations of cutoff {cutoff} scored against the following 7 days, "
                  f"per segment as of {cutoff}. All buyers: MAP@{K} {overall[0]:.5f} over "
                  f"{overall[1]:,} buyers.", "note")]
    for kind, frame in labels.items():
        rows = (scores.join(frame, "customer_key", "left").fillna("unknown", subset=["segment"])
                .groupBy("segment").agg(F.avg("ap").alias("map"),
                                        F.count(F.lit(1)).alias("buyers")).collect())
        rows = sorted(rows, key=lambda r: segment_order(r["segment"]))
        title = "RFM segment" if kind == "rfm" else "cluster"
        parts.append(img(plots.hbar([r["segment"] for r in rows], [r["map"] for r in rows],
                                    f"MAP@{K} by {title}", f"MAP@{K}", fmt="{:.4f}"),
                         f"MAP@12 by {title}"))
        parts.append(table([title, f"MAP@{K}", "buyers in the target week"],
                           [[r["segment"], fmt(r["map"], ".5f"), f"{r['buyers']:,}"] for r in rows]))
    if "cluster" not in labels:
        parts.append(para(f"No customer_segments for {cutoff}: RFM segments computed for this "
                          f"page; run jobs/segments.py --cutoff {cutoff} for clusters.", "note"))
    scores.unpersist()
    return parts


def segments(ctx: Context) -> list[str]:
    seg, used = ctx.at_cutoff(SEGMENTS_TABLE, "run jobs/segments.py")
    parts = [as_of(used, ctx)]
    for column, title in (("rfm_segment", "RFM segment"), ("cluster_name", "cluster")):
        rows = seg.groupBy(column).agg(F.count(F.lit(1)).alias("n"),
                                       F.avg("recency_days").alias("rec"),
                                       F.avg("frequency").alias("freq"),
                                       F.avg("monetary").alias("mon"),
                                       F.avg("online_share").alias("online"),
                                       F.avg("age").alias("age")).collect()
        rows = sorted(rows, key=lambda r: segment_order(r[column]))
        total = sum(r["n"] for r in rows) or 1
        parts.append(img(plots.hbar([r[column] for r in rows], [r["n"] for r in rows],
                                    f"Customers per {title}", "customers", fmt="{:,.0f}"),
                         f"customers per {title}"))
        parts.append(table([title, "customers", "share", "mean days since last purchase",
                            "mean purchase days (window)", "mean spend (window)",
                            "online share", "mean age"],
                           [[r[column], f"{r['n']:,}", f"{r['n'] / total:.1%}", fmt(r["rec"], ".0f"),
                             fmt(r["freq"], ".2f"), fmt(r["mon"], ".3f"), fmt(r["online"], ".0%"),
                             fmt(r["age"], ".1f")] for r in rows]))
    grid = (seg.filter(F.col("r_tier") > 0).groupBy("r_tier", "f_tier")
            .agg(F.count(F.lit(1)).alias("n")).collect())
    if grid:
        cells = {(r["r_tier"], r["f_tier"]): r["n"] for r in grid}
        names = {3: "R3 active", 2: "R2 cooling", 1: "R1 lapsed"}
        parts.append(para("RFM grid: customers per recency tier (rows) and frequency tier "
                          "(columns: F0 none in the window, F1 one-off, F2 repeat, F3 frequent).",
                          "note"))
        parts.append(table(["recency", "F0", "F1", "F2", "F3"],
                           [[names[r]] + [f"{cells.get((r, f), 0):,}" for f in range(4)]
                            for r in (3, 2, 1)]))
    if table_exists(ctx.spark, ctx.warehouse, K_SCORES_TABLE):
        ks = (read_table(ctx.spark, ctx.warehouse, K_SCORES_TABLE)
              .filter(F.col("cutoff") == F.lit(used)).orderBy("k").collect())
        if ks:
            parts.append(para("k-means: k chosen by the highest silhouette (squared Euclidean) on "
                              "the standardised behaviour vectors.", "note"))
            parts.append(table(["k", "silhouette", "chosen"],
                               [[str(r["k"]), fmt(r["silhouette"], ".4f"),
                                 "yes" if r["chosen"] else ""] for r in ks]))
    if table_exists(ctx.spark, ctx.warehouse, CLUSTERS_TABLE):
        cl = (read_table(ctx.spark, ctx.warehouse, CLUSTERS_TABLE)
              .filter(F.col("cutoff") == F.lit(used)).orderBy("cluster").collect())
        if cl:
            parts.append(table(["cluster", "customers", "days since last", "purchase days",
                                "spend / day", "online", "age", "top index group"],
                               [[r["cluster_name"], f"{r['customers']:,}",
                                 fmt(r["mean_recency_days"], ".0f"), fmt(r["mean_frequency"], ".2f"),
                                 fmt(r["mean_spend_per_day"], ".4f"),
                                 fmt(r["mean_online_share"], ".0%"), fmt(r["mean_age"], ".1f"),
                                 r["top_index_group"] or "-"] for r in cl]))
    return parts


HEATMAP_DIMENSIONS = ("index_group", "product_group", "colour_group", PRICE_BAND)


def lift_matrix(prefs: pd.DataFrame, kind: str, top_values: int = 6) -> pd.DataFrame:
    """Rows = segments of ``kind``, columns = "dimension: value" (every index group and price
    band, the ``top_values`` most bought product and colour groups), cells = lift.  The garment
    groups are in the table of top preferences."""
    p = prefs[(prefs["segment_type"] == kind) & ~prefs["segment"].isin(NOT_SEGMENTS)]
    columns = []
    for dim in HEATMAP_DIMENSIONS:
        d = p[p["dimension"] == dim].drop_duplicates("value").sort_values(
            "overall_share", ascending=False)
        values = list(d["value"])
        if dim == PRICE_BAND:
            values = [v for v in PRICE_BANDS if v in values]
        elif dim != "index_group":
            values = values[:top_values]
        columns += [(dim, v) for v in values]
    segs = sorted(p["segment"].unique(), key=segment_order)
    lift = p.set_index(["segment", "dimension", "value"])["lift"]
    data = [[lift.get((s, d, v), np.nan) for d, v in columns] for s in segs]
    short = {"index_group": "index", "product_group": "product", "colour_group": "colour",
             PRICE_BAND: "price"}
    return pd.DataFrame(data, index=segs, columns=[f"{short[d]}: {v}" for d, v in columns])


def preferences(ctx: Context) -> list[str]:
    prefs_df, used = ctx.at_cutoff(PREFERENCES_TABLE, "run jobs/segments.py")
    prefs = prefs_df.toPandas()
    if prefs.empty:
        raise Missing(f"no preferences for {used}: nobody bought in the window")
    cfg = ctx.settings.segments
    parts = [as_of(used, ctx),
             para("Lift = the segment's share of units in a category / all customers' share "
                  "(1 = like everyone; 2 = twice as likely). Units of the last "
                  f"{cfg.window_days} days.", "note")]
    for kind, title in (("rfm", "RFM segment"), ("cluster", "cluster")):
        matrix = lift_matrix(prefs, kind)
        if matrix.empty:
            continue
        parts.append(img(plots.lift_heatmap(matrix, f"Category preference lift by {title}"),
                         f"preference lift by {title}"))
    top = top_preferences(prefs.to_dict("records"), cfg.top_preferences, cfg.min_preference_share)
    parts.append(table(["type", "segment", "top preferences (lift, share of the segment's units)"],
                       [[k[0], k[1], "; ".join(f"{p['dimension'].replace('_', ' ')} {p['value']} "
                                              f"x{p['lift']:.2f} ({p['share']:.0%})" for p in v)]
                        for k, v in top.items() if k[1] not in NOT_SEGMENTS], numeric_from=99))
    return parts


def cltv(ctx: Context) -> list[str]:
    values_df, used = ctx.at_cutoff(CLTV_TABLE, "run jobs/cltv.py")
    parts = [as_of(used, ctx)]
    models = []
    if table_exists(ctx.spark, ctx.warehouse, CLTV_MODELS_TABLE):
        models = (read_table(ctx.spark, ctx.warehouse, CLTV_MODELS_TABLE)
                  .filter(F.col("cutoff") == F.lit(used)).orderBy("fit").collect())
    forecast = next((m for m in models if m["fit"] == "forecast"), None)
    ok = values_df.filter(F.col("status") == "ok")
    n_ok = ok.count()
    if n_ok == 0:
        reason = forecast["message"] if forecast is not None else "no customer could be scored"
        raise Missing(f"no CLTV as of {used}: {reason}")
    horizon = values_df.select("horizon_weeks").first()[0]
    parts.append(para(f"Expected value = expected purchase days in the {horizon} weeks after "
                      f"{used} (BG/NBD) x expected spend per purchase day (Gamma-Gamma), "
                      f"undiscounted, in the data's price units; {n_ok:,} customers scored.",
                      "note"))
    labels = {}
    if table_exists(ctx.spark, ctx.warehouse, SEGMENTS_TABLE):
        seg = read_table(ctx.spark, ctx.warehouse, SEGMENTS_TABLE).filter(
            F.col("cutoff") == F.lit(used))
        if seg.limit(1).count():
            labels = {"RFM segment": "rfm_segment", "cluster": "cluster_name"}
            ok = ok.join(seg.select("customer_key", *labels.values()), "customer_key", "left")
    if n_ok > MAX_BOX_POINTS:
        ok = ok.sample(fraction=MAX_BOX_POINTS / n_ok, seed=1)
    pdf = ok.toPandas()
    for title, column in labels.items():
        groups = {s: g["expected_value"].to_numpy() for s, g in pdf.groupby(column)
                  if s not in NOT_SEGMENTS}
        groups = dict(sorted(groups.items(), key=lambda kv: segment_order(kv[0])))
        if groups:
            parts.append(img(plots.boxplot(groups, f"Expected value per customer by {title} "
                                                   f"(box: quartiles, whiskers: 5th-95th pct)",
                                           f"expected value, {horizon} weeks"),
                             f"CLTV distribution by {title}"))
    if not labels:
        parts.append(img(plots.boxplot({"all customers": pdf["expected_value"].to_numpy()},
                                       "Expected value per customer", "expected value"),
                         "CLTV distribution"))
        parts.append(para("No customer_segments for this cutoff: run jobs/segments.py for the "
                          "distribution per segment.", "note"))
    if table_exists(ctx.spark, ctx.warehouse, CLTV_SEGMENTS_TABLE):
        rows = [r.asDict() for r in read_table(ctx.spark, ctx.warehouse, CLTV_SEGMENTS_TABLE)
                .filter(F.col("cutoff") == F.lit(used)).collect()]
        rows.sort(key=lambda r: (r["segment_type"] != "rfm", r["segment"] == "all",
                                 segment_order(r["segment"])))
        parts.append(table(["type", "segment", "customers", "expected purchase days",
                            "expected value", "share", "mean", "p10", "median", "p90"],
                           [[r["segment_type"], r["segment"], f"{r['customers']:,}",
                             fmt(r["expected_purchases"], ",.0f"), fmt(r["expected_value"], ",.1f"),
                             fmt(r["value_share"], ".1%"), fmt(r["mean_value"], ".3f"),
                             fmt(r["p10_value"], ".3f"), fmt(r["median_value"], ".3f"),
                             fmt(r["p90_value"], ".3f")] for r in rows], numeric_from=2))
    if table_exists(ctx.spark, ctx.warehouse, CLTV_HOLDOUT_TABLE):
        hold = [r.asDict() for r in read_table(ctx.spark, ctx.warehouse, CLTV_HOLDOUT_TABLE)
                .filter(F.col("cutoff") == F.lit(used)).collect()]
        hold.sort(key=lambda r: (r["segment"] == "all", segment_order(r["segment"])))
        if hold:
            h = hold[0]
            parts.append(para(f"Holdout check: the model fitted on the history up to "
                              f"{h['holdout_cutoff']} predicts the purchase days of the "
                              f"{h['holdout_weeks']} weeks to {used}; segments as of "
                              f"{h['holdout_cutoff']}. Naive: each customer's past rate.", "note"))
            parts.append(table(["segment", "customers", "actual", "predicted", "error %",
                                "MAE per customer", "naive predicted", "naive MAE"],
                               [[r["segment"], f"{r['customers']:,}", f"{r['actual']:,}",
                                 fmt(r["predicted"], ",.1f"), fmt(r["relative_error"], "+.1%"),
                                 fmt(r["mae"], ".3f"), fmt(r["naive_predicted"], ",.1f"),
                                 fmt(r["naive_mae"], ".3f")] for r in hold]))
    if models:
        parts.append(table(["fit", "fitted until", "customers", "repeat", "r", "alpha", "a", "b",
                            "p", "q", "v", "status"],
                           [[m["fit"], str(m["fitted_until"]), fmt(m["customers"], ","),
                             fmt(m["repeat_customers"], ",")]
                            + [fmt(m[k], ".4g") for k in ("r", "alpha", "a", "b", "p", "q", "v")]
                            + [m["status"]] for m in models]))
    return parts


SECTIONS: list[tuple[str, str, Callable[[Context], list[str]]]] = [
    ("overview", "Data overview", overview),
    ("recall", "Candidate recall per source", recall),
    ("map", f"MAP@{K}: ranker vs baselines", map_scores),
    ("importance", "Feature importances", importance),
    ("map-by-segment", f"MAP@{K} by segment", map_by_segment),
    ("segments", "Customer segments", segments),
    ("preferences", "Category preferences by segment", preferences),
    ("cltv", "Customer lifetime value", cltv),
]

STYLE = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1180px; padding: 1em 2em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 2px solid #ddd; padding-bottom: 0.2em; }
nav a { margin-right: 1em; } .note { color: #555; font-size: 0.92em; }
.missing { background: #fff4e5; border-left: 4px solid #ff9800; padding: 0.6em 1em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.88em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; } th { background: #f4f4f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 0.6em 0; } img { max-width: 100%; height: auto; }
"""


def render(ctx: Context, sections: list[tuple[str, str, list[str] | str]]) -> str:
    nav = " ".join(f'<a href="#{sid}">{esc(title)}</a>' for sid, title, _ in sections)
    body = []
    for sid, title, content in sections:
        inner = para(content, "missing") if isinstance(content, str) else "\n".join(content)
        body.append(f'<section class="report-section" id="{sid}">\n<h2>{esc(title)}</h2>\n'
                    f'{inner}\n</section>')
    meta = (f"Warehouse {ctx.warehouse}; cutoff {ctx.cutoff or '-'}; generated "
            f"{dt.datetime.now().strftime('%Y-%m-%d %H:%M')}.")
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>hmspark report {esc(ctx.cutoff or '')}</title><style>{STYLE}</style></head>"
            f"<body>\n<h1>Customers and recommendations</h1>\n{para(meta, 'note')}\n"
            f"<nav>{nav}</nav>\n" + "\n".join(body) + "\n</body></html>\n")


def report_cutoff(spark: SparkSession, warehouse: str, metrics: dict | None,
                  cutoff: str | dt.date | None) -> dt.date | None:
    if cutoff is not None:
        return as_date(cutoff)
    if metrics and metrics.get("cutoff"):
        return as_date(metrics["cutoff"])
    if table_exists(spark, warehouse, "recommendations"):
        newest = read_table(spark, warehouse, "recommendations").agg(F.max("cutoff")).first()[0]
        if newest is not None:
            return newest
    if table_exists(spark, warehouse, "transactions"):
        try:
            return last_date(read_table(spark, warehouse, "transactions"))
        except ValueError:
            return None
    return None


def load_metrics(output_dir: str | Path, metrics_path: str | Path | None = None) -> dict | None:
    """The pipeline's ``metrics.json`` (``metrics_path``, default ``output_dir/metrics.json``), or
    None when there is none."""
    path = Path(metrics_path) if metrics_path else Path(output_dir) / METRICS_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def write_report(spark: SparkSession, warehouse: str, output_dir: str | Path, *,
                 cutoff: str | dt.date | None = None, settings: Settings | None = None,
                 metrics_path: str | Path | None = None) -> Path:
    """Write ``output_dir/report.html`` and return its path.  ``metrics_path`` defaults to
    ``output_dir/metrics.json`` (the pipeline's backtest scores)."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = load_metrics(out, metrics_path)
    ctx = Context(spark, str(warehouse), out, settings or Settings(), metrics,
                  report_cutoff(spark, str(warehouse), metrics, cutoff))
    drawn = []
    for sid, title, build in SECTIONS:
        try:
            content: list[str] | str = build(ctx)
        except Missing as exc:
            content = str(exc)
            log.warning("report section %s: %s", sid, content)
        except Exception as exc:  # one broken section must not cost the manager the others
            log.exception("report section %s failed", sid)
            content = f"this section could not be drawn: {type(exc).__name__}: {exc}"
        drawn.append((sid, title, content))
    path = out / REPORT_FILE
    path.write_text(render(ctx, drawn), encoding="utf-8")
    return path
