"""The weekly job: ingest -> candidates -> features -> train -> score, with an optional backtest.

Without ``as_of`` it predicts the 7 days after the last transaction date.  With ``as_of = D`` it
predicts the 7 days after D using only data up to D, then scores the ranker and the baselines with
MAP@12 against what was bought in those 7 days (``metrics.json``).

Training cutoffs are the ``train.train_weeks`` weekly cutoffs before the prediction cutoff
(D-7, D-14, ...); their target weeks end on or before D, so nothing after D is read for training.
The newest of them is the validation week.  When fewer than two of those weeks have history and
buyers, there is nothing to train on: the job says so and ranks with the heuristic instead.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from hmspark.cli import step
from hmspark.config import Settings
from hmspark.cutoff import TARGET_DAYS, CutoffError, as_date, last_date, target_week
from hmspark.features.assemble import FEATURE_COLUMNS, assemble
from hmspark.features.build import build_features
from hmspark.features.compute import ArticleHistory, article_history
from hmspark.ingest import ingest
from hmspark.metrics import K, RankingScores, ranking_scores
from hmspark.provenance import (CANDIDATE_TABLES, FEATURE_TABLES, SCOPE_ALL, SCOPE_BUYERS,
                                Fingerprints, record_tables, recorded, reusable)
from hmspark.ranker.baselines import baseline_rankings
from hmspark.ranker.dataset import (label_candidates, positive_groups, sample_training_rows,
                                    sort_groups)
from hmspark.ranker.model import TrainedModel, fit_ranker
from hmspark.ranker.score import fallback_articles, score_candidates, top_k_with_fill
from hmspark.recall.build import build_candidates, evaluate, read_cutoff, write_cutoff
from hmspark.recall.report import format_report
from hmspark.submission import submission_frame, write_submission
from hmspark.tables import read_table, table_version, write_table

log = logging.getLogger("hmspark.pipeline")

RECOMMENDATIONS = "recommendations"
# The tables of build_candidates, as named in its counts.
CANDIDATE_TABLE_NAMES = ("candidate_sources", "candidates", "candidate_pair_features")


@dataclass
class PipelineResult:
    cutoff: dt.date
    mode: str                       # "ranker" or "heuristic"
    submission: Path
    model_dir: Path | None = None
    metrics: dict[str, dict] = field(default_factory=dict)
    steps: list[dict] = field(default_factory=list)
    importances: dict[str, float] = field(default_factory=dict)
    recall: str = ""                # the recall report of a backtest, as a text table
    report: Path | None = None      # OUTPUT/report.html


def training_cutoffs(cutoff: dt.date, weeks: int) -> list[dt.date]:
    """The weekly cutoffs before ``cutoff`` whose target weeks end on or before it, oldest first."""
    return [cutoff - dt.timedelta(days=TARGET_DAYS * k) for k in range(weeks, 0, -1)]


def usable_cutoffs(transactions: DataFrame, cutoffs: list[dt.date]) -> list[dt.date]:
    """Cutoffs that have history before them and buyers in their target week."""
    first = transactions.agg(F.min("t_dat")).first()[0]
    out = []
    for c in cutoffs:
        if first is None or c < first:
            continue
        if target_week(transactions, c).limit(1).count():
            out.append(c)
    return out


def labelled_frame(spark: SparkSession, warehouse: str, transactions: DataFrame,
                   cutoff: dt.date, customers: DataFrame | None = None) -> DataFrame:
    return label_candidates(assemble(spark, warehouse, cutoff, customers=customers),
                            transactions, cutoff)


TRAINING_ROWS_TABLE = "training_rows"
TRAINING_COLUMNS = ["cutoff", "customer_key", "article_id", "label", *FEATURE_COLUMNS]


def sample_week(spark: SparkSession, warehouse: str, transactions: DataFrame, cutoff: dt.date,
                settings: Settings, built_from: str) -> pd.DataFrame:
    """The sampled training rows of one training week on the driver (``TRAINING_COLUMNS``,
    features as float32, which LightGBM bins anyway), also written into table ``training_rows``.

    Table ``training_rows``, partitioned by cutoff: one row per sampled candidate (cutoff,
    customer_key, article_id) of the query groups with a positive, ``label``, ``FEATURE_COLUMNS``
    and ``built_from``, the fingerprint the rows were sampled under
    (``Fingerprints.training``), written in the same commit.  Needs the week's candidate and
    feature tables."""
    keys = (read_table(spark, warehouse, "candidates").filter(F.col("cutoff") == F.lit(cutoff))
            .select("cutoff", "customer_key", "article_id"))
    labels = label_candidates(keys, transactions, cutoff).persist()
    # Features only for the query groups with a positive (the others are dropped anyway):
    # at full scale ~15K of a training week's ~80K buyers.
    # Persisted: it feeds both the assembly's customer filter and the sampling.
    with_pos = positive_groups(labels).persist()
    sampled = None
    try:
        sampled = sample_training_rows(
            labelled_frame(spark, warehouse, transactions, cutoff, customers=with_pos),
            settings.train, labels=labels, groups=with_pos)
        # Computed once (a few hundred thousand rows) for the table and the driver.
        sampled = sampled.select("cutoff", "customer_key", "article_id", "label",
                                 *[F.col(c).cast("float").alias(c) for c in FEATURE_COLUMNS]
                                 ).persist()
        write_cutoff(sampled.withColumn("built_from", F.lit(built_from)), warehouse,
                     TRAINING_ROWS_TABLE, cutoff)
        return sampled.toPandas()
    finally:
        for df in (sampled, with_pos, labels):
            if df is not None:
                df.unpersist()


def stored_training_rows(spark: SparkSession, warehouse: str, cutoff: dt.date,
                         built_from: str) -> pd.DataFrame | None:
    """The rows of ``cutoff`` in table ``training_rows`` when they were sampled under the
    fingerprint ``built_from`` (else None: no table, no rows, or other tables or settings)."""
    from hmspark.tables import table_exists

    if not table_exists(spark, warehouse, TRAINING_ROWS_TABLE):
        return None
    rows = read_cutoff(spark, warehouse, TRAINING_ROWS_TABLE, cutoff)
    if "built_from" not in rows.columns:
        return None
    first = rows.select("built_from").limit(1).collect()
    if not first or first[0]["built_from"] != built_from:
        return None
    return rows.select(*TRAINING_COLUMNS).toPandas()


def collect_training(spark: SparkSession, warehouse: str, transactions: DataFrame,
                     cutoffs: list[dt.date], settings: Settings,
                     fingerprints: Fingerprints | None = None,
                     rebuild: bool = False) -> list[pd.DataFrame]:
    """Sampled training rows of the given cutoffs on the driver (through Arrow): one frame per
    cutoff, in the cutoffs' order, each sorted by query group (``sort_groups``).

    A week's rows are sampled (:func:`sample_week`) unless table ``training_rows`` holds them
    sampled under the fingerprint a sampling now would have (``Fingerprints.training``: the same
    candidate and feature tables, labels and sampling settings), as a weekly run finds for the
    weeks an earlier run trained on; ``rebuild``: always sample."""
    fingerprints = fingerprints or Fingerprints(spark, warehouse, settings)
    frames = []
    for c in cutoffs:
        built_from = fingerprints.training(c)
        pdf = None if rebuild else stored_training_rows(spark, warehouse, c, built_from)
        if pdf is not None:
            log.info("training rows for cutoff %s: sampled from the same tables and settings "
                     "before: read back", c)
        else:
            pdf = sample_week(spark, warehouse, transactions, c, settings, built_from)
        log.info("training rows for cutoff %s: %d (%d positives, %d customers)", c, len(pdf),
                 int(pdf["label"].sum()) if len(pdf) else 0,
                 pdf["customer_key"].nunique() if len(pdf) else 0)
        frames.append(sort_groups(pdf))
        del pdf
    return frames


def resolve_cutoff(transactions: DataFrame, as_of: str | dt.date | None) -> tuple[dt.date, bool]:
    """The prediction cutoff and whether it is a backtest.

    ``as_of`` None: the last transaction date (forecast).  A date: that date (backtest).
    ``"last-week"``: the last date minus 7 days, the newest week whose outcome is fully known.
    """
    last = last_date(transactions)
    if as_of is None:
        return last, False
    cutoff = last - dt.timedelta(days=TARGET_DAYS) if as_of == "last-week" else as_date(as_of)
    if cutoff > last:
        raise CutoffError(f"cutoff {cutoff} is after the last transaction date {last}: there is "
                          f"nothing after it to backtest against (leave out --as-of / --cutoff to "
                          f"forecast the 7 days after {last})")
    if cutoff + dt.timedelta(days=TARGET_DAYS) > last:
        log.warning("as-of %s: only %d of the 7 days after it are in the data (up to %s); the "
                    "backtest scores against those", cutoff, (last - cutoff).days, last)
    return cutoff, True


def plan_training(transactions: DataFrame, cutoff: dt.date, settings: Settings) -> list[dt.date]:
    """The training cutoffs of a prediction cutoff (oldest first, the newest is the validation
    week), or [] with a warning when fewer than two have history and buyers."""
    cutoffs = usable_cutoffs(transactions, training_cutoffs(cutoff, settings.train.train_weeks))
    if len(cutoffs) < 2:
        log.warning("only %d labelled week(s) before %s (need 2 to train and validate): ranking "
                    "with the heuristic (repurchase, co-purchase pairs, bestsellers) instead",
                    len(cutoffs), cutoff)
        return []
    return cutoffs


def target_buyers(transactions: DataFrame, cutoff: dt.date) -> DataFrame:
    """(customer_key): the customers who bought anything in the target week of ``cutoff``."""
    return target_week(transactions, cutoff).select("customer_key").distinct()


def training_scope(transactions: DataFrame, cutoff: dt.date, settings: Settings
                   ) -> DataFrame | None:
    """The customers a training cutoff needs candidates and features for: its target week's
    buyers (``train.only_target_buyers``, the default), or None for everyone.

    Restricting to them changes nothing in the training sample, since query groups without a
    positive are dropped anyway (``hmspark.ranker.dataset``), but at full scale it is ~5% of the
    customers; the features stay as-of-cutoff (the buyers are chosen, not their history)."""
    return target_buyers(transactions, cutoff) if settings.train.only_target_buyers else None


def build_cutoff_candidates(spark: SparkSession, settings: Settings, warehouse: str,
                            cutoff: dt.date, scope: DataFrame | None = None,
                            fingerprints: Fingerprints | None = None) -> dict:
    """``build_candidates`` of one cutoff (for everyone, or the customers of ``scope``), recorded
    in table ``cutoffs`` with its fingerprint (``hmspark.provenance``); returns its counts."""
    scope_name = SCOPE_ALL if scope is None else SCOPE_BUYERS
    fingerprints = fingerprints or Fingerprints(spark, warehouse, settings)
    built_from = fingerprints.of(cutoff, scope_name, CANDIDATE_TABLES)
    # No valid record while the tables are being replaced (a failed build is never reused).
    everyone = fingerprints.everyone if scope is None else None
    record_tables(spark, warehouse, cutoff, CANDIDATE_TABLES, scope_name, 0, None)
    counts = build_candidates(spark, warehouse, cutoff, settings.recall, scope=scope)
    record_tables(spark, warehouse, cutoff, CANDIDATE_TABLES, scope_name,
                  counts.get("customers", 0), built_from,
                  rows={t: counts.get(t, 0) for t in CANDIDATE_TABLE_NAMES}, everyone=everyone)
    return counts


def build_cutoff_features(spark: SparkSession, settings: Settings, warehouse: str,
                          cutoff: dt.date, scope: DataFrame | None = None,
                          article_history: ArticleHistory | None = None,
                          fingerprints: Fingerprints | None = None) -> dict[str, int]:
    """``build_features`` of one cutoff, recorded like :func:`build_cutoff_candidates`."""
    from hmspark.features.build import CUSTOMER

    scope_name = SCOPE_ALL if scope is None else SCOPE_BUYERS
    fingerprints = fingerprints or Fingerprints(spark, warehouse, settings)
    built_from = fingerprints.of(cutoff, scope_name, FEATURE_TABLES)
    everyone = fingerprints.everyone if scope is None else None
    record_tables(spark, warehouse, cutoff, FEATURE_TABLES, scope_name, 0, None)
    counts = build_features(spark, warehouse, cutoff, settings.features, scope=scope,
                            article_history=article_history)
    record_tables(spark, warehouse, cutoff, FEATURE_TABLES, scope_name,
                  counts.get(CUSTOMER, 0), built_from, rows=counts, everyone=everyone)
    return counts


def has_cutoff(spark: SparkSession, warehouse: str, cutoff: dt.date, scope: str,
               fingerprints: Fingerprints) -> bool:
    """True when the candidate and feature tables of ``cutoff`` can be used for ``scope`` as they
    are: recorded with the fingerprint a build now would have (``provenance.reusable``: "all" to
    score every customer, "target_buyers" to train) and each holding the cutoff's partition when
    its build wrote rows (an empty table, e.g. no pair links in a sparse week, is valid)."""
    from hmspark.tables import table_exists

    if not reusable(spark, warehouse, cutoff, scope, fingerprints):
        return False
    written: dict[str, int] = {}
    for rec in recorded(spark, warehouse, cutoff).values():
        written.update(rec["rows"])
    for name, rows in written.items():
        if not rows:
            continue
        if not table_exists(spark, warehouse, name):
            return False
        if read_table(spark, warehouse, name).filter(F.col("cutoff") == F.lit(cutoff)) \
                .limit(1).count() == 0:
            return False
    return True


def prepare_cutoff(spark: SparkSession, settings: Settings, warehouse: str,
                   cutoff: dt.date, scope: DataFrame | None = None,
                   article_history: ArticleHistory | None = None,
                   fingerprints: Fingerprints | None = None) -> list[dict]:
    """Write the candidate and feature tables of one cutoff, for every customer or only those of
    ``scope`` (see :func:`training_scope`), each recorded with its fingerprint; returns one step
    record each.  ``article_history``: the run's per-article daily aggregates (see
    :func:`build_features`)."""
    records = []
    fingerprints = fingerprints or Fingerprints(spark, warehouse, settings)
    if scope is not None:
        # The sources and three feature tables each filter by it: compute it once.
        scope = scope.select("customer_key").distinct().persist()
    try:
        label = f"candidates {cutoff}"
        with step(label) as info:
            counts = build_cutoff_candidates(spark, settings, warehouse, cutoff, scope,
                                             fingerprints)
            info["rows"] = counts.get("candidates", 0)
            info["customers"] = counts.get("customers", 0)
            if scope is not None:
                info["scope"] = SCOPE_BUYERS
        records.append({"step": label, **info})
        with step(f"features {cutoff}") as info:
            info["rows"] = sum(build_cutoff_features(spark, settings, warehouse, cutoff, scope,
                                                     article_history, fingerprints).values())
        records.append({"step": f"features {cutoff}", **info})
    finally:
        if scope is not None:
            scope.unpersist()
    return records


def run_pipeline(spark: SparkSession, settings: Settings, *, input_dir: str | None, warehouse: str,
                 output_dir: str, as_of: str | None = None, insights: bool = True,
                 rebuild: bool = False) -> PipelineResult:
    """Run every step; ``input_dir`` None skips ingest (the warehouse tables must exist);
    ``insights`` adds segments, CLTV and the HTML report (``hmspark.insights``) at the end.

    A cutoff whose candidate and feature tables are in the warehouse, built from the same code,
    settings and data (``hmspark.provenance``), is not built again unless ``rebuild``: a weekly
    run rebuilds only its new prediction cutoff (last week's training weeks and prediction cutoff
    are this week's training weeks).

    ``as_of``: a date to backtest, or ``"last-week"`` for the last date in the data minus 7 days
    (the newest week whose outcome is fully known)."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    steps: list[dict] = []

    if input_dir is not None:
        with step("ingest") as info:
            report = ingest(spark, input_dir, warehouse, settings.ingest)
            for line in report.lines():
                log.info("  %s", line)
            info["rows"] = sum(c.written for c in report.files.values())
        steps.append({"step": "ingest", **info})

    transactions = read_table(spark, warehouse, "transactions")
    cutoff, backtest = resolve_cutoff(transactions, as_of)
    log.info("prediction cutoff %s (%s)", cutoff, "backtest" if backtest else "forecast")
    train_cutoffs = plan_training(transactions, cutoff, settings)
    mode = "ranker" if train_cutoffs else "heuristic"

    fingerprints = Fingerprints(spark, warehouse, settings)
    with step("fingerprints") as info:
        # One scan of the transactions (a digest per day) and of customers and articles: what
        # each cutoff's tables would be built from (hmspark.provenance).
        fingerprints.warm()
    steps.append({"step": "fingerprints", **info})
    wanted = [*((c, SCOPE_BUYERS) for c in train_cutoffs), (cutoff, SCOPE_ALL)]
    todo, reused = list(wanted), []
    if not rebuild:
        with step("reuse check") as info:
            todo = []
            for c, scope in wanted:
                if has_cutoff(spark, warehouse, c, scope, fingerprints):
                    log.info("cutoff %s: its candidate and feature tables, built from the same "
                             "code, settings and data, are in the warehouse: reused (--rebuild "
                             "to build them again)", c)
                    reused.append(c)
                else:
                    todo.append((c, scope))
            info["reused"] = len(reused)
        steps.append({"step": "reuse check", **info})
        steps += [{"step": f"reused {c}", "seconds": 0.0} for c in reused]
    history = None
    if len(todo) > 1:
        with step("article history") as info:
            # Per-article daily sales and buyers up to the newest cutoff to build, computed once:
            # each cutoff's article table is then a sum over the days before it (no leakage:
            # see hmspark.features.compute.ArticleHistory).  For a single cutoff (a weekly run
            # that reuses its training weeks) the article table reads that cutoff's history.
            history = article_history(transactions, read_table(spark, warehouse, "customers"),
                                      max(c for c, _ in todo)).persist()
            info["rows"] = history.sales.count() + history.buyers.count()
        steps.append({"step": "article history", **info})
    try:
        for c, scope in todo:
            steps += prepare_cutoff(
                spark, settings, warehouse, c,
                scope=training_scope(transactions, c, settings) if scope == SCOPE_BUYERS
                else None,
                article_history=history, fingerprints=fingerprints)
    finally:
        if history is not None:
            history.unpersist()

    model = None
    if mode == "ranker":
        with step("train") as info:
            model = train_model(spark, settings, warehouse, transactions, cutoff, train_cutoffs,
                                fingerprints=fingerprints, rebuild=rebuild)
            model.save(out / "model")
            info.update(rows=model.meta["train_rows"], positives=model.meta["train_positives"],
                        rounds=model.meta["best_rounds"])
        steps.append({"step": "train", **info})

    with step("score") as info:
        recs, baselines, fill = recommend(spark, warehouse, transactions, cutoff, model)
        submission = write_submission(submission_frame(recs, read_table(spark, warehouse, "customers")),
                                      out / "submission.csv")
        info["rows"] = recs.count()
    steps.append({"step": "score", **info})

    customers = read_table(spark, warehouse, "customers")
    result = PipelineResult(cutoff, mode, submission, out / "model" if model else None,
                            steps=steps, importances=model.importances() if model else {})
    if backtest:
        with step("evaluate") as info:
            result.metrics = evaluate_backtest(spark, transactions, cutoff, recs, baselines,
                                               customers, fill, mode)
            info["buyers"] = next(iter(result.metrics.values()))["buyers"]
            if cutoff + dt.timedelta(days=TARGET_DAYS) <= last_date(transactions):
                # The recall ceiling of the same week (table recall_report).
                result.recall = format_report(evaluate(spark, warehouse, cutoff, settings.recall))
        steps.append({"step": "evaluate", **info})
        (out / "metrics.json").write_text(json.dumps(
            {"cutoff": str(cutoff), "mode": mode, "metrics": result.metrics, "steps": steps,
             "feature_importance_gain": result.importances}, indent=2, default=str))
    if insights:
        from hmspark.insights import run_insights

        with step("insights") as info:
            # Segments and CLTV as of the prediction cutoff, then OUTPUT/report.html.
            result.report = run_insights(spark, settings, warehouse, out, cutoff)
        steps.append({"step": "insights", **info})
    return result


def train_model(spark: SparkSession, settings: Settings, warehouse: str, transactions: DataFrame,
                cutoff: dt.date, train_cutoffs: list[dt.date],
                fingerprints: Fingerprints | None = None, rebuild: bool = False) -> TrainedModel:
    """Fit the ranker on the sampled candidates of ``train_cutoffs`` (their candidate and feature
    tables must exist); the newest cutoff is the validation week.  Sampled rows stored with the
    same fingerprint are reused unless ``rebuild`` (:func:`collect_training`)."""
    frames = collect_training(spark, warehouse, transactions, train_cutoffs, settings,
                              fingerprints=fingerprints, rebuild=rebuild)
    valid_cutoff = train_cutoffs[-1]
    # The newest cutoff validates; the others, concatenated in cutoff order, stay sorted by query
    # group, so neither is copied again by fit_ranker.  One set of rows on the driver.
    valid = frames.pop()
    train = pd.concat(frames, ignore_index=True) if frames else valid.iloc[:0]
    del frames
    if train.empty or train["label"].sum() == 0:
        raise ValueError(f"no positive training rows in cutoffs {train_cutoffs[:-1]}")
    model = fit_ranker(train, valid, FEATURE_COLUMNS, settings.train)
    model.meta.update(
        prediction_cutoff=str(cutoff), train_cutoffs=[str(c) for c in train_cutoffs[:-1]],
        valid_cutoff=str(valid_cutoff),
        table_versions={t: table_version(spark, warehouse, t) for t in
                        ("transactions", "articles", "customers", "candidates",
                         "candidate_pair_features")})
    return model


def recommend(spark: SparkSession, warehouse: str, transactions: DataFrame, cutoff: dt.date,
              model: TrainedModel | None) -> tuple[DataFrame, dict[str, DataFrame], list[int]]:
    """Write the ``recommendations`` of a cutoff (the model's ranking, or the heuristic when there
    is no model) and return them with the baseline rankings and the fill list."""
    customers = read_table(spark, warehouse, "customers")
    articles = read_table(spark, warehouse, "articles")
    fill = fallback_articles(transactions, articles, cutoff, K)
    sources = read_table(spark, warehouse, "candidate_sources").filter(
        F.col("cutoff") == F.lit(cutoff))
    baselines = baseline_rankings(spark, sources)
    if model is not None:
        ranked = score_candidates(spark, assemble(spark, warehouse, cutoff), model)
    else:
        ranked = baselines["heuristic"]
    recs = top_k_with_fill(spark, ranked, customers, fill, K).withColumn("cutoff", F.lit(cutoff))
    write_table(recs.select("cutoff", "customer_key", "rank", "article_id", "score", "source"),
                warehouse, RECOMMENDATIONS, partition_by=["cutoff"],
                replace_where=f"cutoff = '{cutoff}'")
    recs = read_table(spark, warehouse, RECOMMENDATIONS).filter(F.col("cutoff") == F.lit(cutoff))
    return recs, baselines, fill


def evaluate_backtest(spark: SparkSession, transactions: DataFrame, cutoff: dt.date,
                      recs: DataFrame, baselines: dict[str, DataFrame], customers: DataFrame,
                      fill: list[int], mode: str) -> dict[str, dict]:
    """MAP@12, recall@12, precision@12 of the final recommendations and of each baseline."""
    actual = target_week(transactions, cutoff).select("customer_key", "article_id")
    scores: dict[str, RankingScores] = {mode: ranking_scores(recs, actual)}
    for name, ranked in baselines.items():
        if name == mode:
            continue
        preds = top_k_with_fill(spark, ranked, customers, fill, K)
        scores[name] = ranking_scores(preds, actual)
    return {name: s.as_dict() for name, s in scores.items()}


def metrics_table(metrics: dict[str, dict]) -> list[str]:
    lines = [f"{'ranking':<20}{'MAP@12':>10}{'recall@12':>11}{'precision@12':>14}{'buyers':>9}"]
    for name, m in metrics.items():
        lines.append(f"{name:<20}{m['map_at_k']:>10.5f}{m['recall_at_k']:>11.4f}"
                     f"{m['precision_at_k']:>14.4f}{m['buyers']:>9,}")
    return lines
