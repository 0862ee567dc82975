"""What a cutoff's candidate and feature tables were built from, so that a later run can reuse
them only when rebuilding would give the same rows.

A cutoff's tables depend on the code, the recall (candidates) or feature settings, the
``customers`` and ``articles`` tables, and the transactions up to a bound: the cutoff itself for
tables built for every customer (scope ``all``), the end of its target week for tables built for
the week's buyers (scope ``target_buyers``: the scope is chosen from that week).  A *fingerprint*
is a digest of all of these; table ``cutoffs`` holds one row per (cutoff, tables) with the scope
and the fingerprint the tables were built with.  A weekly run finds last week's training weeks and
last week's prediction cutoff there and rebuilds only the new prediction cutoff.

Table ``cutoffs``: one row per (cutoff, tables), ``tables`` being "candidates" (candidate_sources,
candidates, candidate_pair_features) or "features" (the four feature tables); columns scope,
customers (how many got rows; for features: 0 when unknown), built_from (the fingerprint),
written_at.

The transactions digest is an order-free sum of one 64-bit hash per row (its count next to it), per
day, so that one scan serves every bound and the file layout of the table does not matter.  A
changed customers or articles table (a new customer shifts the dense customer keys) changes every
fingerprint.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from functools import cached_property
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from hmspark.config import Settings
from hmspark.cutoff import TARGET_DAYS, as_date
from hmspark.tables import read_table, table_exists, write_table

log = logging.getLogger("hmspark")

CUTOFFS_TABLE = "cutoffs"
SCOPE_ALL, SCOPE_BUYERS = "all", "target_buyers"
CANDIDATE_TABLES, FEATURE_TABLES = "candidates", "features"
GROUPS = (CANDIDATE_TABLES, FEATURE_TABLES)
RECORD_SCHEMA = ("cutoff date, tables string, scope string, customers long, built_from string, "
                 "written_at timestamp")


def code_digest() -> str:
    """sha256 over the source files of the hmspark package (also when it runs from a zip, as with
    spark-submit --py-files): any change of the code is a change of every fingerprint."""
    from importlib.resources import files

    digest = hashlib.sha256()

    def walk(node, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            name = f"{prefix}/{child.name}"
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, name)
            elif child.name.endswith(".py"):
                digest.update(name.encode())
                digest.update(child.read_bytes())

    walk(files("hmspark"), "hmspark")
    return digest.hexdigest()


def frame_digest(df: DataFrame) -> tuple[int, int]:
    """(rows, sum of a 64-bit hash of every row): the same for the same multiset of rows,
    whatever their order or partitioning."""
    row = df.agg(F.count(F.lit(1)).alias("n"), F.sum(_row_hash(df)).alias("s")).first()
    return int(row["n"]), int(row["s"] or 0)


def _row_hash(df: DataFrame):
    # decimal: the sum of ~10^8 64-bit values overflows a long (and ANSI mode raises on it).
    return F.xxhash64(*[F.col(c) for c in sorted(df.columns)]).cast("decimal(38,0)")


def day_digests(transactions: DataFrame) -> dict[dt.date, tuple[int, int]]:
    """``frame_digest`` of each day of ``transactions`` (one scan, one row per day)."""
    rows = (transactions.groupBy("t_dat")
            .agg(F.count(F.lit(1)).alias("n"), F.sum(_row_hash(transactions)).alias("s"))
            .collect())
    return {r["t_dat"]: (int(r["n"]), int(r["s"] or 0)) for r in rows}


class Fingerprints:
    """Fingerprints of the cutoffs of one warehouse, computed lazily: the digests of the
    ``transactions`` (per day), ``customers`` and ``articles`` tables are read once."""

    def __init__(self, spark: SparkSession, warehouse: str | Path, settings: Settings):
        self.spark, self.warehouse = spark, str(warehouse)
        self._settings = {
            CANDIDATE_TABLES: dataclasses.asdict(settings.recall),
            FEATURE_TABLES: dataclasses.asdict(settings.features),
        }

    @cached_property
    def _fixed(self) -> dict:
        return {"code": code_digest(),
                "customers": frame_digest(read_table(self.spark, self.warehouse, "customers")),
                "articles": frame_digest(read_table(self.spark, self.warehouse, "articles"))}

    @cached_property
    def _days(self) -> list[tuple[dt.date, tuple[int, int]]]:
        return sorted(day_digests(read_table(self.spark, self.warehouse, "transactions")).items())

    def warm(self) -> None:
        """Read every digest now (a scan of transactions and of the two small tables)."""
        _ = (self._fixed, self._days)

    def transactions_up_to(self, bound: dt.date) -> tuple[int, int]:
        n = s = 0
        for day, (dn, ds) in self._days:
            if day > bound:
                break
            n, s = n + dn, s + ds
        return n, s

    def of(self, cutoff: str | dt.date, scope: str, tables: str) -> str:
        """The fingerprint of ``tables`` (CANDIDATE_TABLES or FEATURE_TABLES) of ``cutoff`` built
        for ``scope`` (SCOPE_ALL or SCOPE_BUYERS)."""
        cutoff = as_date(cutoff)
        if scope not in (SCOPE_ALL, SCOPE_BUYERS):
            raise ValueError(f"unknown scope {scope!r}")
        bound = cutoff if scope == SCOPE_ALL else cutoff + dt.timedelta(days=TARGET_DAYS)
        parts = {"tables": tables, "scope": scope, "cutoff": cutoff.isoformat(),
                 "settings": self._settings[tables], **self._fixed,
                 "transactions": self.transactions_up_to(bound)}
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _predicate(cutoff: dt.date, tables: str) -> str:
    return f"cutoff = DATE'{cutoff.isoformat()}' AND tables = '{tables}'"


def record_tables(spark: SparkSession, warehouse: str | Path, cutoff: str | dt.date,
                  tables: str, scope: str, customers: int, built_from: str | None) -> None:
    """Write the row of ``cutoffs`` for (cutoff, tables), replacing the previous one.  A
    ``cutoffs`` table of an older layout is replaced whole (its cutoffs are then rebuilt once)."""
    cutoff = as_date(cutoff)
    row = spark.createDataFrame([(cutoff, tables, scope, int(customers), built_from)],
                                "cutoff date, tables string, scope string, customers long, "
                                "built_from string").withColumn("written_at", F.current_timestamp())
    replace = _predicate(cutoff, tables)
    if table_exists(spark, warehouse, CUTOFFS_TABLE):
        old = read_table(spark, warehouse, CUTOFFS_TABLE).columns
        if set(old) != {f.split()[0] for f in RECORD_SCHEMA.split(", ")}:
            log.warning("table %s has an older layout (%s): replaced, its cutoffs' tables will "
                        "be rebuilt when needed", CUTOFFS_TABLE, ", ".join(old))
            replace = None
    write_table(row, warehouse, CUTOFFS_TABLE, partition_by=["cutoff"], replace_where=replace)


def recorded(spark: SparkSession, warehouse: str | Path, cutoff: str | dt.date
             ) -> dict[str, dict]:
    """{tables: {scope, customers, built_from}} recorded for a cutoff (empty when none)."""
    if not table_exists(spark, warehouse, CUTOFFS_TABLE):
        return {}
    df = read_table(spark, warehouse, CUTOFFS_TABLE)
    if "tables" not in df.columns:
        return {}
    rows = df.filter(F.col("cutoff") == F.lit(as_date(cutoff))).collect()
    return {r["tables"]: {"scope": r["scope"], "customers": r["customers"],
                          "built_from": r["built_from"]} for r in rows}


def reusable(spark: SparkSession, warehouse: str | Path, cutoff: str | dt.date, scope: str,
             fingerprints: Fingerprints) -> bool:
    """True when the candidate and feature tables of ``cutoff`` were recorded with the fingerprint
    that building them for ``scope`` now would have: "all" (to score every customer) only by
    tables built for everyone, "target_buyers" (to train) also by those (a buyer's rows are the
    same in both)."""
    records = recorded(spark, warehouse, cutoff)
    scopes = [SCOPE_ALL] if scope == SCOPE_ALL else [SCOPE_ALL, SCOPE_BUYERS]
    for tables in GROUPS:
        rec = records.get(tables)
        if rec is None or rec["scope"] not in scopes or rec["built_from"] is None:
            return False
        if rec["built_from"] != fingerprints.of(cutoff, rec["scope"], tables):
            return False
    return True
