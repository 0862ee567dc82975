"""Read the ingest tables, compute segments, preferences and CLTV as of a cutoff, write the Delta
tables (each partitioned by ``cutoff``; a re-run replaces only that cutoff's rows).

=====================  ==========================================  ==============================
table                  grain                                       written by
=====================  ==========================================  ==============================
customer_segments      (cutoff, customer_key), every customer      :func:`build_segments`
segment_clusters       (cutoff, cluster)                           :func:`build_segments`
segment_k_scores       (cutoff, k): silhouette, chosen             :func:`build_segments`
segment_preferences    (cutoff, segment_type, segment, dimension,  :func:`build_segments`
                       value)
customer_cltv          (cutoff, customer_key), every customer      :func:`build_cltv`
cltv_segments          (cutoff, segment_type, segment)             :func:`build_cltv`
cltv_holdout           (cutoff, segment)                           :func:`build_cltv`
cltv_models            (cutoff, fit): "forecast" and "holdout"     :func:`build_cltv`
=====================  ==========================================  ==============================
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from hmspark.cli import step
from hmspark.config import CltvSettings, SegmentSettings, Settings
from hmspark.cutoff import as_date, last_date
from hmspark.insights import cltv as C
from hmspark.insights.preferences import (format_top_preferences, price_thresholds,
                                          segment_preferences, top_preferences)
from hmspark.insights.profile import customer_profile, window_rows
from hmspark.insights.segments import (Clustering, cluster_customers, rfm_labels, segment_labels,
                                       size_table)
from hmspark.recall.build import cutoff_predicate, read_cutoff, write_cutoff
from hmspark.tables import read_table, table_exists, table_path

log = logging.getLogger("hmspark.insights")

SEGMENTS_TABLE = "customer_segments"
CLUSTERS_TABLE = "segment_clusters"
K_SCORES_TABLE = "segment_k_scores"
PREFERENCES_TABLE = "segment_preferences"
CLTV_TABLE = "customer_cltv"
CLTV_SEGMENTS_TABLE = "cltv_segments"
CLTV_HOLDOUT_TABLE = "cltv_holdout"
CLTV_MODELS_TABLE = "cltv_models"

CLUSTERS_SCHEMA = T.StructType([
    T.StructField("cluster", T.IntegerType(), False),
    T.StructField("cluster_name", T.StringType(), False),
    T.StructField("customers", T.LongType(), False),
    T.StructField("mean_recency_days", T.DoubleType()),
    T.StructField("mean_frequency", T.DoubleType()),
    T.StructField("mean_monetary", T.DoubleType()),
    T.StructField("mean_spend_per_day", T.DoubleType()),
    T.StructField("mean_online_share", T.DoubleType()),
    T.StructField("mean_age", T.DoubleType()),
    T.StructField("top_index_group", T.StringType()),
])
K_SCORES_SCHEMA = "k int, silhouette double, chosen boolean, sample_customers long"
MODELS_SCHEMA = T.StructType([
    T.StructField("fit", T.StringType(), False),
    T.StructField("fitted_until", T.DateType()),
    T.StructField("customers", T.LongType()),
    T.StructField("repeat_customers", T.LongType()),
    *[T.StructField(k, T.DoubleType()) for k in ("r", "alpha", "a", "b", "p", "q", "v")],
    T.StructField("spend_frequency_corr", T.DoubleType()),
    T.StructField("status", T.StringType()),
    T.StructField("message", T.StringType()),
])


def resolve_cutoff(spark: SparkSession, warehouse: str, cutoff: str | dt.date | None) -> dt.date:
    """The given cutoff, or the last transaction date."""
    if cutoff is not None:
        return as_date(cutoff)
    return last_date(read_table(spark, warehouse, "transactions"))


# ----------------------------------------------------------------------------------------------
# Segments


@dataclass
class SegmentsResult:
    cutoff: dt.date
    clustering_message: str
    k: int | None
    silhouettes: dict[int, float | None]
    clusters: list[dict]
    sizes: dict[tuple[str, str], int]
    top: dict[tuple[str, str], list[dict]]
    price_thresholds: tuple[float, float] | None = None
    counts: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"segments as of {self.cutoff}"]
        out.append("k-means: " + self.clustering_message)
        if self.silhouettes:
            out.append("  " + "  ".join(f"k={k}: {'-' if s is None else f'{s:.4f}'}"
                                        f"{' <-' if k == self.k else ''}"
                                        for k, s in self.silhouettes.items()))
        if self.price_thresholds:
            lo, hi = self.price_thresholds
            out.append(f"price bands: low <= {lo:.4f} < mid <= {hi:.4f} < high")
        out.append(f"{'type':<8}{'segment':<44}{'customers':>9}  top preferences "
                   f"(value x lift (share of the segment's units))")
        shown = set(self.top)
        out += format_top_preferences(self.top, self.sizes)
        for key, n in self.sizes.items():
            if key not in shown:
                out.append(f"{key[0]:<8}{key[1]:<44}{n:>9,}  (no purchase in the window)")
        return out


def build_segments(spark: SparkSession, warehouse: str, cutoff: str | dt.date | None = None,
                   cfg: SegmentSettings | Settings | None = None) -> SegmentsResult:
    """Write ``customer_segments``, ``segment_clusters``, ``segment_k_scores`` and
    ``segment_preferences`` for one cutoff from the ingest tables (only t_dat <= cutoff)."""
    cfg = cfg.segments if isinstance(cfg, Settings) else (cfg or SegmentSettings())
    cutoff = resolve_cutoff(spark, warehouse, cutoff)
    transactions = read_table(spark, warehouse, "transactions")
    customers = read_table(spark, warehouse, "customers")
    articles = read_table(spark, warehouse, "articles")
    counts: dict = {}
    with step(f"segments profile as of {cutoff}") as info:
        profile = customer_profile(transactions, customers, articles, cutoff, cfg) \
            .persist(StorageLevel.MEMORY_AND_DISK)
        info["customers"] = counts["customers"] = profile.count()
    units = window_rows(transactions, cutoff, cfg.window_days)
    try:
        with step("segments k-means") as info:
            clustering = cluster_customers(profile, units, articles, cfg)
            info["k"] = clustering.k if clustering.k is not None else "-"
        with step(SEGMENTS_TABLE) as info:
            write_cutoff(segment_labels(profile, clustering, cfg), warehouse, SEGMENTS_TABLE,
                         cutoff)
            info["rows"] = counts[SEGMENTS_TABLE] = \
                read_cutoff(spark, warehouse, SEGMENTS_TABLE, cutoff).count()
    finally:
        profile.unpersist()
    _write_clusters(spark, warehouse, cutoff, clustering, cfg)
    segments = read_cutoff(spark, warehouse, SEGMENTS_TABLE, cutoff)
    with step(PREFERENCES_TABLE) as info:
        prefs = segment_preferences(transactions, articles, segments, cutoff, cfg)
        write_cutoff(prefs, warehouse, PREFERENCES_TABLE, cutoff)
        rows = read_cutoff(spark, warehouse, PREFERENCES_TABLE, cutoff).collect()
        info["rows"] = counts[PREFERENCES_TABLE] = len(rows)
    if clustering.labels is not None:
        clustering.labels.unpersist()
    sizes = {("rfm", s): n for s, n in size_table(segments, "rfm_segment")}
    sizes.update({("cluster", s): n for s, n in size_table(segments, "cluster_name")})
    return SegmentsResult(cutoff, clustering.message, clustering.k, clustering.silhouettes,
                          clustering.clusters, sizes,
                          top_preferences(rows, cfg.top_preferences, cfg.min_preference_share),
                          price_thresholds(units.select("price")), counts)


def _write_clusters(spark: SparkSession, warehouse: str, cutoff: dt.date, clustering: Clustering,
                    cfg: SegmentSettings) -> None:
    names = [f.name for f in CLUSTERS_SCHEMA.fields]
    rows = [tuple(int(c[n]) if n in ("cluster", "customers") else c.get(n) for n in names)
            for c in clustering.clusters]
    write_cutoff(spark.createDataFrame(rows, CLUSTERS_SCHEMA), warehouse, CLUSTERS_TABLE, cutoff)
    sample = min(cfg.k_sample, sum(int(c["customers"]) for c in clustering.clusters))
    scores = [(int(k), s, k == clustering.k, sample) for k, s in clustering.silhouettes.items()]
    write_cutoff(spark.createDataFrame(scores, K_SCORES_SCHEMA), warehouse, K_SCORES_TABLE, cutoff)


def segment_label_frames(spark: SparkSession, warehouse: str, cutoff: dt.date,
                         transactions: DataFrame | None = None,
                         cfg: SegmentSettings = SegmentSettings()) -> dict[str, DataFrame]:
    """segment_type -> (customer_key, segment) as of ``cutoff``: both labels from
    ``customer_segments`` when it has that cutoff, else the RFM segment computed here (cheap)."""
    if table_exists(spark, warehouse, SEGMENTS_TABLE):
        seg = read_cutoff(spark, warehouse, SEGMENTS_TABLE, cutoff)
        if seg.limit(1).count():
            return {"rfm": seg.select("customer_key", F.col("rfm_segment").alias("segment")),
                    "cluster": seg.select("customer_key", F.col("cluster_name").alias("segment"))}
    return {"rfm": rfm_segments_now(spark, warehouse, cutoff, transactions, cfg)}


def rfm_segments_now(spark: SparkSession, warehouse: str, cutoff: dt.date,
                     transactions: DataFrame | None = None,
                     cfg: SegmentSettings = SegmentSettings()) -> DataFrame:
    """(customer_key, segment): the RFM segment as of ``cutoff``, computed from the ingest tables."""
    transactions = transactions if transactions is not None else \
        read_table(spark, warehouse, "transactions")
    profile = customer_profile(transactions, read_table(spark, warehouse, "customers"),
                               read_table(spark, warehouse, "articles"), cutoff, cfg)
    return rfm_labels(profile, cfg).select("customer_key", F.col("rfm_segment").alias("segment"))


# ----------------------------------------------------------------------------------------------
# CLTV


def _delete_cutoff(spark: SparkSession, warehouse: str, name: str, cutoff: dt.date) -> None:
    """Remove a cutoff's rows from a table (when there is nothing to write for it)."""
    if table_exists(spark, warehouse, name):
        from delta.tables import DeltaTable

        DeltaTable.forPath(spark, table_path(warehouse, name)).delete(cutoff_predicate(cutoff))


@dataclass
class CltvResult:
    cutoff: dt.date
    horizon_weeks: int
    model: C.CltvModel
    holdout_model: C.CltvModel | None
    holdout_cutoff: dt.date | None
    holdout: list[dict]
    values: list[dict]
    holdout_message: str = ""
    counts: dict = field(default_factory=dict)

    def lines(self) -> list[str]:
        m = self.model
        out = [f"CLTV as of {self.cutoff}: {m.customers:,} customers with a purchase, "
               f"{m.repeat_customers:,} with a repeat purchase day"]
        if m.bgnbd:
            out.append("BG/NBD (weeks): " + ", ".join(f"{k}={v:.4g}" for k, v in m.bgnbd.items()))
        if m.gamma_gamma:
            out.append("Gamma-Gamma: " + ", ".join(f"{k}={v:.4g}" for k, v in
                                                   m.gamma_gamma.items())
                       + (f"  (corr(frequency, spend) = {m.spend_frequency_corr:.3f}; the model "
                          f"assumes ~0)" if m.spend_frequency_corr is not None else ""))
        if m.status != C.OK:
            out.append(f"WARNING: {m.message}")
        out.append("")
        if self.holdout:
            out.append(f"holdout: fitted up to {self.holdout_cutoff}, purchase days of the "
                       f"{(self.cutoff - self.holdout_cutoff).days // 7} weeks to {self.cutoff} "
                       f"(RFM segment as of {self.holdout_cutoff})")
            out.append(f"{'segment':<16}{'customers':>10}{'actual':>10}{'predicted':>11}"
                       f"{'error':>10}{'error %':>9}{'MAE':>8}{'naive':>10}{'naive MAE':>10}")
            for r in self.holdout:
                rel = r["relative_error"]
                out.append(f"{r['segment']:<16}{r['customers']:>10,}{r['actual']:>10,}"
                           f"{r['predicted']:>11.1f}{r['error']:>10.1f}"
                           f"{'-' if rel is None else f'{rel:+.1%}':>9}{r['mae']:>8.3f}"
                           f"{r['naive_predicted']:>10.1f}{r['naive_mae']:>10.3f}")
        else:
            out.append(f"holdout: {self.holdout_message}")
        out.append("")
        out.append(f"expected value over {self.horizon_weeks} weeks, by segment")
        out.append(f"{'type':<8}{'segment':<44}{'customers':>10}{'total':>12}{'share':>7}"
                   f"{'mean':>9}{'p10':>9}{'median':>9}{'p90':>9}{'purchases':>11}")
        for r in self.values:
            def f(x, spec=".3f"):
                return "-" if x is None else format(x, spec)
            out.append(f"{r['segment_type']:<8}{r['segment']:<44}{r['customers']:>10,}"
                       f"{f(r['expected_value'], ',.1f'):>12}{f(r['value_share'], '.0%'):>7}"
                       f"{f(r['mean_value']):>9}{f(r['p10_value']):>9}"
                       f"{f(r['median_value']):>9}{f(r['p90_value']):>9}"
                       f"{f(r['expected_purchases'], ',.0f'):>11}")
        return out


def _order_rows(rows: list[dict]) -> list[dict]:
    from hmspark.insights.segments import segment_order

    def key(r):
        s = r["segment"]
        return (r.get("segment_type", "") != "rfm", s == "all", segment_order(s))
    return sorted(rows, key=key)


def build_cltv(spark: SparkSession, warehouse: str, cutoff: str | dt.date | None = None,
               cfg: CltvSettings | Settings | None = None,
               segments_cfg: SegmentSettings | None = None) -> CltvResult:
    """Write ``customer_cltv``, ``cltv_segments``, ``cltv_holdout`` and ``cltv_models`` for one
    cutoff.  The forecast model is fitted on t_dat <= cutoff; the holdout model on t_dat <=
    cutoff - holdout_weeks and checked against the weeks up to the cutoff."""
    if isinstance(cfg, Settings):
        segments_cfg = segments_cfg or cfg.segments
        cfg = cfg.cltv
    cfg = cfg or CltvSettings()
    segments_cfg = segments_cfg or SegmentSettings()
    if cfg.horizon_weeks < 1 or cfg.holdout_weeks < 1:
        raise ValueError("cltv.horizon_weeks and cltv.holdout_weeks must be >= 1")
    cutoff = resolve_cutoff(spark, warehouse, cutoff)
    transactions = read_table(spark, warehouse, "transactions")
    customers = read_table(spark, warehouse, "customers")
    counts: dict = {}

    with step(f"cltv summary as of {cutoff}") as info:
        summary = C.cltv_summary(transactions, customers, cutoff).persist(
            StorageLevel.MEMORY_AND_DISK)
        info["customers"] = summary.count()
    try:
        with step("cltv fit") as info:
            model = C.fit_models(summary, cfg)
            info["status"] = model.status
        if model.status != C.OK:
            log.warning("%s", model.message)
        with step(CLTV_TABLE) as info:
            write_cutoff(C.score_customers(summary, model, cfg.horizon_weeks), warehouse,
                         CLTV_TABLE, cutoff)
            info["rows"] = counts[CLTV_TABLE] = read_cutoff(spark, warehouse, CLTV_TABLE,
                                                            cutoff).count()
    finally:
        summary.unpersist()

    cltv = read_cutoff(spark, warehouse, CLTV_TABLE, cutoff)
    with step(CLTV_SEGMENTS_TABLE) as info:
        parts = None
        labels = segment_label_frames(spark, warehouse, cutoff, transactions, segments_cfg)
        if "cluster" not in labels:
            log.info("no %s for %s: CLTV by RFM segment only (run jobs/segments.py for clusters)",
                     SEGMENTS_TABLE, cutoff)
        for kind, frame in labels.items():
            part = C.value_by_segment(cltv, frame).withColumn("segment_type", F.lit(kind))
            parts = part if parts is None else parts.unionByName(part)
        parts = parts.select("segment_type", *[c for c in parts.columns if c != "segment_type"])
        write_cutoff(parts, warehouse, CLTV_SEGMENTS_TABLE, cutoff)
        values = [r.asDict() for r in
                  read_cutoff(spark, warehouse, CLTV_SEGMENTS_TABLE, cutoff).collect()]
        info["rows"] = len(values)

    holdout_cutoff = cutoff - dt.timedelta(days=7 * cfg.holdout_weeks)
    holdout_rows: list[dict] = []
    holdout_model = None
    first = transactions.agg(F.min("t_dat")).first()[0]
    with step(CLTV_HOLDOUT_TABLE) as info:
        if first is None or holdout_cutoff < first:
            message = (f"no holdout check: the history starts on {first}, after the holdout "
                       f"cutoff {holdout_cutoff} (cutoff - {cfg.holdout_weeks} weeks)")
        else:
            before = C.cltv_summary(transactions, customers, holdout_cutoff).persist(
                StorageLevel.MEMORY_AND_DISK)
            try:
                holdout_model = C.fit_models(before, cfg)
                message = holdout_model.message
                if holdout_model.bgnbd is not None:
                    per_customer = C.holdout_frame(transactions, before, holdout_model,
                                                   holdout_cutoff, cutoff)
                    labels0 = rfm_segments_now(spark, warehouse, holdout_cutoff, transactions,
                                               segments_cfg)
                    table = C.holdout_by_segment(per_customer, labels0).select(
                        F.lit(holdout_cutoff).alias("holdout_cutoff"),
                        F.lit(cfg.holdout_weeks).alias("holdout_weeks"), "*")
                    write_cutoff(table, warehouse, CLTV_HOLDOUT_TABLE, cutoff)
                    holdout_rows = [r.asDict() for r in read_cutoff(
                        spark, warehouse, CLTV_HOLDOUT_TABLE, cutoff).collect()]
                else:
                    message = f"no holdout check: {holdout_model.message}"
            finally:
                before.unpersist()
        if not holdout_rows:
            log.warning("%s", message)
            _delete_cutoff(spark, warehouse, CLTV_HOLDOUT_TABLE, cutoff)  # no stale check
        info["rows"] = len(holdout_rows)

    fits = [("forecast", model)] + ([("holdout", holdout_model)] if holdout_model else [])
    rows = []
    for name, m in fits:
        rec = m.record()
        rows.append(tuple([name] + [rec.get(f.name) for f in MODELS_SCHEMA.fields[1:]]))
    write_cutoff(spark.createDataFrame(rows, MODELS_SCHEMA), warehouse, CLTV_MODELS_TABLE, cutoff)
    return CltvResult(cutoff, cfg.horizon_weeks, model, holdout_model,
                      holdout_cutoff if holdout_rows else None,
                      _order_rows(holdout_rows), _order_rows(values), message, counts)


# ----------------------------------------------------------------------------------------------


def run_insights(spark: SparkSession, settings: Settings, warehouse: str, output_dir: str | Path,
                 cutoff: str | dt.date | None = None, metrics_path: str | Path | None = None) -> Path:
    """Segments, CLTV and the HTML report as of ``cutoff``; returns the report's path
    (``output_dir/report.html``).  The pipeline calls this last with its prediction cutoff, so that
    MAP@12 by segment uses segments known at that cutoff.  Without a cutoff: the report's own
    choice (the backtest's in ``metrics.json``, the newest recommendations', the last date)."""
    from hmspark.insights.report import load_metrics, report_cutoff, write_report

    metrics = load_metrics(output_dir, metrics_path)
    cutoff = report_cutoff(spark, warehouse, metrics, cutoff) or resolve_cutoff(spark, warehouse,
                                                                                None)
    seg = build_segments(spark, warehouse, cutoff, settings.segments)
    for line in seg.lines():
        log.info("%s", line)
    cl = build_cltv(spark, warehouse, cutoff, settings.cltv, settings.segments)
    for line in cl.lines():
        log.info("%s", line)
    return write_report(spark, warehouse, output_dir, cutoff=cutoff, settings=settings,
                        metrics_path=metrics_path)
