"""Restricting a frame to a set of customers (a training week's buyers, the query groups with a
positive): a broadcast semi-join, the one way every module does it."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def customer_keys(customers: DataFrame) -> DataFrame:
    """The distinct ``customer_key`` of ``customers``, marked for broadcast: one int per customer
    (75-81K buyers of a training week, 1.4M customers at full scale), so that cutting a large
    frame to them never shuffles the large frame."""
    return F.broadcast(customers.select("customer_key").distinct())


def only_customers(df: DataFrame, customers: DataFrame | None) -> DataFrame:
    """The rows of ``df`` whose ``customer_key`` is one of ``customers`` (all rows for None)."""
    if customers is None:
        return df
    return df.join(customer_keys(customers), "customer_key", "left_semi")
