"""Customer lifetime value as of a cutoff: a BG/NBD model of purchase days and a Gamma-Gamma model
of spend, fitted with ``lifetimes`` (why this library: ``docs/insights.md``).

**Summary** (:func:`cltv_summary`, Spark; grain (cutoff, customer_key), every customer).  A
purchase is a purchase day (the customer bought anything on that date), as in lifetimes'
``summary_data_from_transaction_data(freq="D")`` with ``observation_period_end = cutoff``:

- n_purchase_days: distinct dates with a purchase, on or before the cutoff
- frequency = n_purchase_days - 1: repeat purchase days
- recency_days: days from the first to the last purchase day (0 with a single purchase day)
- T_days: days from the first purchase day to the cutoff (the customer's age in the data; 0 when
  the first purchase is on the cutoff day)
- total_spend, mean_spend: spend (sum of prices) in all and per purchase day
- monetary_value: mean spend of the *repeat* purchase days (the first day excluded, lifetimes'
  convention and the Gamma-Gamma model's input); 0 when frequency = 0
- customers without a purchase on or before the cutoff have nulls and ``has_purchase = false``

**Models** (:func:`fit_models`, on the driver).  BG/NBD is fitted on the distinct (frequency,
recency, T) patterns with their customer counts as weights (exact, and far smaller than one row per
customer); time is in weeks.  Gamma-Gamma is fitted on the repeat customers' (frequency,
monetary_value), with lifetimes' ``q_constraint`` so that the population mean spend stays positive.
A fit that fails (too few repeat customers, no convergence, a singular Hessian) gives no model and a
message saying why, never an exception.

**Scores** (:func:`score_customers`, on the executors): p_alive, expected_purchases (purchase days
in the ``horizon_weeks`` after the cutoff), expected_spend (per purchase day) and expected_value =
expected_purchases * expected_spend (undiscounted, in the data's price units).  A customer with one
purchase day gets the population's spend; one without a purchase gets 0 (``status = "no
purchase"``: BG/NBD describes customers from their first purchase on).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from hmspark.config import CltvSettings
from hmspark.cutoff import as_date, history

log = logging.getLogger("hmspark.insights")

WEEK_DAYS = 7.0
OK, NO_PURCHASE, NOT_FITTED, NO_SPEND_MODEL = "ok", "no purchase", "not fitted", "no spend model"

SUMMARY_COLUMNS = ("cutoff", "customer_key", "has_purchase", "n_purchase_days", "frequency",
                   "recency_days", "T_days", "total_spend", "mean_spend", "monetary_value")
SCORE_SCHEMA = ("customer_key int, p_alive double, expected_purchases double, "
                "expected_spend double, expected_value double")


def purchase_days(transactions: DataFrame) -> DataFrame:
    """One row per customer and purchase day: customer_key, t_dat (and days_before when the input
    has it), spend."""
    cols = ["customer_key", "t_dat"] + (["days_before"] if "days_before" in transactions.columns
                                        else [])
    return transactions.groupBy(*cols).agg(F.sum("price").alias("spend"))


def cltv_summary(transactions: DataFrame, customers: DataFrame,
                 cutoff: str | dt.date) -> DataFrame:
    """The per-customer summary as of ``cutoff`` (module docstring); reads only t_dat <= cutoff."""
    cutoff = as_date(cutoff)
    days = purchase_days(history(transactions, cutoff))
    per_customer = days.groupBy("customer_key").agg(
        F.count(F.lit(1)).cast("int").alias("n_purchase_days"),
        F.max("days_before").cast("int").alias("T_days"),
        F.min("days_before").cast("int").alias("_last"),
        F.sum("spend").alias("total_spend"),
        F.max_by("spend", "days_before").alias("_first_spend"))
    freq = F.col("n_purchase_days") - 1
    out = (customers.select("customer_key").join(per_customer, "customer_key", "left")
           .select(F.lit(cutoff).alias("cutoff"), "customer_key",
                   F.col("n_purchase_days").isNotNull().alias("has_purchase"),
                   F.coalesce("n_purchase_days", F.lit(0)).alias("n_purchase_days"),
                   freq.cast("int").alias("frequency"),
                   (F.col("T_days") - F.col("_last")).cast("int").alias("recency_days"),
                   "T_days", "total_spend",
                   (F.col("total_spend") / F.col("n_purchase_days")).alias("mean_spend"),
                   F.when(freq > 0, (F.col("total_spend") - F.col("_first_spend")) / freq)
                   .when(freq == 0, F.lit(0.0)).alias("monetary_value")))
    return out.select(*SUMMARY_COLUMNS)


# ----------------------------------------------------------------------------------------------
# Models


@dataclass
class CltvModel:
    """The fitted parameters (or why there are none) of one fit."""

    fitted_until: dt.date
    customers: int = 0                 # customers with a purchase up to fitted_until
    repeat_customers: int = 0          # of which with frequency > 0
    bgnbd: dict | None = None          # r, alpha (weeks), a, b
    gamma_gamma: dict | None = None    # p, q, v
    message: str = ""
    spend_frequency_corr: float | None = None   # Gamma-Gamma assumes ~0
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.bgnbd is None:
            return NOT_FITTED
        return OK if self.gamma_gamma is not None else NO_SPEND_MODEL

    def record(self) -> dict:
        d = asdict(self)
        bg, gg = d.pop("bgnbd") or {}, d.pop("gamma_gamma") or {}
        d.pop("warnings")
        for k in ("r", "alpha", "a", "b"):
            d[k] = bg.get(k)
        for k in ("p", "q", "v"):
            d[k] = gg.get(k)
        d["status"] = self.status
        return d


class CltvFitError(RuntimeError):
    """A lifetimes fit that failed; the message says which model, on what, and what to try."""


def _fit(fitter, what: str, *args, **kwargs):
    """Run a lifetimes fit; its printed scipy diagnostics go into the error message instead."""
    from lifetimes.utils import ConvergenceError

    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            return fitter.fit(*args, **kwargs)
    except ConvergenceError:
        detail = " ".join(line.strip() for line in out.getvalue().splitlines()
                          if line.strip().startswith("message"))
        raise CltvFitError(f"{what} did not converge ({detail or 'scipy minimize failed'}); try "
                           f"a penalty, e.g. --set cltv.penalizer_coef=0.001") from None
    except (np.linalg.LinAlgError, ValueError, FloatingPointError, ZeroDivisionError) as exc:
        raise CltvFitError(f"{what} could not be fitted: {exc}") from None


def fit_bgnbd(patterns: pd.DataFrame, penalizer: float = 0.0, options: dict | None = None) -> dict:
    """BG/NBD parameters from (frequency, recency_days, T_days, customers) patterns; ``options``
    go to scipy's minimize."""
    from lifetimes import BetaGeoFitter

    bgf = _fit(BetaGeoFitter(penalizer_coef=penalizer), "BG/NBD",
               patterns["frequency"].to_numpy(int),
               patterns["recency_days"].to_numpy(float) / WEEK_DAYS,
               patterns["T_days"].to_numpy(float) / WEEK_DAYS,
               weights=patterns["customers"].to_numpy(int), **(options or {}))
    params = {k: float(v) for k, v in bgf.params_.items()}
    if not all(np.isfinite(v) and v > 0 for v in params.values()):
        raise CltvFitError(f"BG/NBD gave unusable parameters {params}")
    return params


def fit_gamma_gamma(repeat: pd.DataFrame, penalizer: float = 0.0,
                    options: dict | None = None) -> dict:
    """Gamma-Gamma parameters from the repeat customers' (frequency, monetary_value)."""
    from lifetimes import GammaGammaFitter

    ggf = _fit(GammaGammaFitter(penalizer_coef=penalizer), "Gamma-Gamma",
               repeat["frequency"].to_numpy(int), repeat["monetary_value"].to_numpy(float),
               q_constraint=True, **(options or {}))
    params = {k: float(v) for k, v in ggf.params_.items()}
    if not all(np.isfinite(v) and v > 0 for v in params.values()) or params["q"] <= 1:
        raise CltvFitError(f"Gamma-Gamma gave unusable parameters {params} (q must be > 1)")
    return params


def fit_models(summary: DataFrame, cfg: CltvSettings = CltvSettings()) -> CltvModel:
    """Fit both models on a summary (one cutoff); a failure is a message, not an exception."""
    fitted_until = summary.select("cutoff").first()
    model = CltvModel(fitted_until[0] if fitted_until else None)
    buyers = summary.filter(F.col("has_purchase"))
    patterns = (buyers.groupBy("frequency", "recency_days", "T_days")
                .agg(F.count(F.lit(1)).alias("customers")).toPandas())
    model.customers = int(patterns["customers"].sum()) if len(patterns) else 0
    model.repeat_customers = int(patterns.loc[patterns["frequency"] > 0, "customers"].sum()) \
        if len(patterns) else 0
    span = int(patterns["T_days"].max()) + 1 if len(patterns) else 0
    if model.repeat_customers < max(cfg.min_repeat_customers, 1):
        model.message = (f"no CLTV model as of {model.fitted_until}: {model.repeat_customers} of "
                         f"{model.customers:,} customers have a repeat purchase day (need "
                         f"cltv.min_repeat_customers = {cfg.min_repeat_customers}); the history "
                         f"up to the cutoff spans {span} day(s)")
        return model
    try:
        model.bgnbd = fit_bgnbd(patterns, cfg.penalizer_coef)
    except CltvFitError as exc:
        model.message = f"no CLTV model as of {model.fitted_until}: {exc}"
        return model
    repeat = (buyers.filter((F.col("frequency") > 0) & (F.col("monetary_value") > 0))
              .select("frequency", "monetary_value").toPandas())
    if len(repeat) >= 2:
        model.spend_frequency_corr = float(np.corrcoef(repeat["frequency"],
                                                       repeat["monetary_value"])[0, 1]) \
            if repeat["frequency"].nunique() > 1 and repeat["monetary_value"].nunique() > 1 \
            else None
    try:
        if len(repeat) < max(cfg.min_repeat_customers, 2):
            raise CltvFitError(f"only {len(repeat)} repeat customers with a positive spend")
        model.gamma_gamma = fit_gamma_gamma(repeat, cfg.penalizer_coef)
        model.message = "fitted"
    except CltvFitError as exc:
        model.message = f"no spend model as of {model.fitted_until}: {exc}"
    return model


# ----------------------------------------------------------------------------------------------
# Scores


def predict_frame(frame: pd.DataFrame, bgnbd: dict | None, gamma_gamma: dict | None,
                  horizon_weeks: float) -> pd.DataFrame:
    """Scores of customers with a purchase (frequency, recency_days, T_days, monetary_value):
    p_alive, expected_purchases over the horizon, expected_spend, expected_value (NaN where the
    model is missing)."""
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    n = len(frame)
    out = pd.DataFrame({"customer_key": frame["customer_key"].to_numpy("int32")})
    nan = np.full(n, np.nan)
    purchases = alive = spend = nan
    if bgnbd is not None and n:
        bgf = BetaGeoFitter()
        bgf.params_ = pd.Series(bgnbd)
        x = frame["frequency"].to_numpy(float)
        rec = frame["recency_days"].to_numpy(float) / WEEK_DAYS
        age = frame["T_days"].to_numpy(float) / WEEK_DAYS
        with np.errstate(all="ignore"):
            purchases = np.asarray(bgf.conditional_expected_number_of_purchases_up_to_time(
                float(horizon_weeks), x, rec, age), dtype=float)
            alive = np.asarray(bgf.conditional_probability_alive(x, rec, age), dtype=float)
        purchases = np.where(np.isfinite(purchases), np.maximum(purchases, 0.0), np.nan)
    if gamma_gamma is not None and n:
        ggf = GammaGammaFitter()
        ggf.params_ = pd.Series(gamma_gamma)
        spend = np.asarray(ggf.conditional_expected_average_profit(
            frame["frequency"].to_numpy(float), frame["monetary_value"].to_numpy(float)),
            dtype=float)
    out["p_alive"] = alive
    out["expected_purchases"] = purchases
    out["expected_spend"] = spend
    out["expected_value"] = purchases * spend
    return out


def score_customers(summary: DataFrame, model: CltvModel, horizon_weeks: float) -> DataFrame:
    """``customer_cltv`` rows: the summary with the scores and a ``status``; customers without a
    purchase get 0 expected purchases and value."""
    bg, gg = model.bgnbd, model.gamma_gamma

    def batches(it: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for pdf in it:
            yield predict_frame(pdf, bg, gg, horizon_weeks)

    buyers = summary.filter(F.col("has_purchase")).select(
        "customer_key", "frequency", "recency_days", "T_days", "monetary_value")
    scores = buyers.mapInPandas(batches, SCORE_SCHEMA)
    status = (F.when(~F.col("has_purchase"), F.lit(NO_PURCHASE)).otherwise(F.lit(model.status)))
    zero_if_none = {c: F.when(~F.col("has_purchase"), F.lit(0.0)).otherwise(F.col(c))
                    for c in ("expected_purchases", "expected_value")}
    return (summary.join(scores, "customer_key", "left")
            .withColumns(zero_if_none)
            .withColumn("horizon_weeks", F.lit(int(horizon_weeks)))
            .withColumn("status", status))


# ----------------------------------------------------------------------------------------------
# Holdout


def holdout_frame(transactions: DataFrame, summary_before: DataFrame, model: CltvModel,
                  holdout_cutoff: dt.date, cutoff: dt.date) -> DataFrame:
    """Per customer with a purchase up to ``holdout_cutoff``: predicted purchase days in
    (holdout_cutoff, cutoff] by the model fitted up to holdout_cutoff, the naive prediction (the
    customer's past rate of repeat purchase days per week, times the weeks) and the actual."""
    weeks = (cutoff - holdout_cutoff).days / WEEK_DAYS
    after = transactions.filter((F.col("t_dat") > F.lit(holdout_cutoff))
                                & (F.col("t_dat") <= F.lit(cutoff)))
    actual = after.groupBy("customer_key").agg(F.count_distinct("t_dat").alias("actual"))
    scored = score_customers(summary_before, model, weeks).filter(F.col("has_purchase"))
    naive = F.when(F.col("T_days") > 0, F.col("frequency") / (F.col("T_days") / WEEK_DAYS)
                   * F.lit(weeks)).otherwise(F.lit(0.0))
    return (scored.join(actual, "customer_key", "left").fillna(0, subset=["actual"])
            .select("customer_key", F.col("expected_purchases").alias("predicted"),
                    naive.alias("naive_predicted"), F.col("actual").cast("long")))


def holdout_by_segment(per_customer: DataFrame, labels: DataFrame) -> DataFrame:
    """Totals per segment (``labels``: customer_key, segment) and for ``all``: customers, actual,
    predicted, error = predicted - actual, relative_error = error / actual, mae (mean absolute
    per-customer error) and the naive prediction's total and mae."""
    joined = per_customer.join(labels, "customer_key", "left").fillna("unknown", subset=["segment"])
    aggs = [F.count(F.lit(1)).alias("customers"), F.sum("actual").alias("actual"),
            F.sum("predicted").alias("predicted"),
            F.avg(F.abs(F.col("predicted") - F.col("actual"))).alias("mae"),
            F.sum("naive_predicted").alias("naive_predicted"),
            F.avg(F.abs(F.col("naive_predicted") - F.col("actual"))).alias("naive_mae")]
    rolled = joined.rollup("segment").agg(*aggs).withColumn(
        "segment", F.coalesce(F.col("segment"), F.lit("all")))
    err = F.col("predicted") - F.col("actual")
    return rolled.select(
        "segment", "customers", F.col("actual").cast("long"), "predicted", err.alias("error"),
        F.when(F.col("actual") > 0, err / F.col("actual")).alias("relative_error"), "mae",
        "naive_predicted", "naive_mae")


def value_by_segment(cltv: DataFrame, labels: DataFrame) -> DataFrame:
    """Per segment (``labels``: customer_key, segment) and ``all``: customers, modelled (status ok),
    expected purchases and value in total, mean, 10th / 50th / 90th percentile of expected value,
    and the segment's share of the total value (null when the total is 0 or unknown)."""
    joined = cltv.join(labels, "customer_key", "left").fillna("unknown", subset=["segment"])
    ev = F.col("expected_value")
    rolled = (joined.rollup("segment").agg(
        F.count(F.lit(1)).alias("customers"),
        F.count_if(F.col("status") == OK).alias("modelled"),
        F.sum("expected_purchases").alias("expected_purchases"),
        F.sum(ev).alias("expected_value"),
        F.avg(ev).alias("mean_value"),
        F.percentile_approx(ev, [0.1, 0.5, 0.9], 10_000).alias("_q"))
        .withColumn("segment", F.coalesce(F.col("segment"), F.lit("all"))))
    # A handful of rows: one window over all of them is fine.
    total = F.max(F.when(F.col("segment") == "all", F.col("expected_value"))).over(
        Window.partitionBy())
    return rolled.select(
        "segment", "customers", "modelled", "expected_purchases", "expected_value", "mean_value",
        F.col("_q")[0].alias("p10_value"), F.col("_q")[1].alias("median_value"),
        F.col("_q")[2].alias("p90_value"),
        F.try_divide(F.col("expected_value"), total).alias("value_share"))
