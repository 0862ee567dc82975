"""What "as of a cutoff" means, in one place.

A cutoff is a date: the last day of known history.  Everything computed as of a cutoff (candidates,
features) reads only transactions with ``t_dat <= cutoff``; it describes the 7 days after it, the
target week ``cutoff < t_dat <= cutoff + 7``.  For prediction the cutoff is the last date in the
data; for training and backtests it is an earlier date whose next week is known.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

TARGET_DAYS = 7
YEAR_DAYS = 364  # 52 weeks: the same weekdays one year earlier


class CutoffError(ValueError):
    """A cutoff the data cannot serve: no transactions at all, or a backtest date after the last
    transaction (jobs exit 2 with the message)."""


def as_date(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"cutoff '{value}' is not a date (yyyy-mm-dd)") from None


def days_before(cutoff: str | dt.date) -> Column:
    """Days between a transaction and the cutoff: 0 on the cutoff day, 6 for the first day of the
    last week."""
    return F.datediff(F.lit(as_date(cutoff)), F.col("t_dat"))


def history(transactions: DataFrame, cutoff: str | dt.date) -> DataFrame:
    """Transactions known at the cutoff (on or before it), with ``days_before`` added."""
    return (transactions.filter(F.col("t_dat") <= F.lit(as_date(cutoff)))
            .withColumn("days_before", days_before(cutoff)))


def target_week(transactions: DataFrame, cutoff: str | dt.date) -> DataFrame:
    """Transactions of the 7 days after the cutoff (the week to predict)."""
    start = as_date(cutoff)
    end = start + dt.timedelta(days=TARGET_DAYS)
    return transactions.filter((F.col("t_dat") > F.lit(start)) & (F.col("t_dat") <= F.lit(end)))


def last_date(transactions: DataFrame) -> dt.date:
    """The last transaction date (the prediction cutoff)."""
    value = transactions.agg(F.max("t_dat")).first()[0]
    if value is None:
        raise CutoffError("the transactions table is empty: nothing to predict from (did "
                          "transactions_train.csv have data rows? see the ingest counts)")
    return value


def weekly_cutoffs(last: str | dt.date, weeks: int) -> list[dt.date]:
    """``weeks`` cutoffs, one week apart, the newest ``last``, oldest first."""
    end = as_date(last)
    return [end - dt.timedelta(days=7 * k) for k in range(weeks - 1, -1, -1)]
