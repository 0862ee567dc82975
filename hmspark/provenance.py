"""What a cutoff's candidate and feature tables were built from, so that a later run can reuse
them only when rebuilding would give the same rows.

A cutoff's tables depend on the code, the recall (candidates) or feature settings, and the data up
to a bound: the cutoff itself for tables built for every customer (scope ``all``), the end of its
target week for tables built for the week's buyers (scope ``target_buyers``: the scope is chosen
from that week).  The data, as far as the builders read it: the transactions up to the bound
(``TRANSACTION_COLUMNS``), the customers whose first purchase is on or before it
(``CUSTOMER_COLUMNS``) and the articles whose first sale is (``ARTICLE_COLUMNS``) -- no source
proposes an article before it sells, and a customer without a purchase has no history.  A
*fingerprint* is a digest of all of these, so a weekly export that only adds days, customers and
articles leaves the older cutoffs' fingerprints as they were (ingest keeps the customer keys of a
warehouse stable, ``hmspark.ingest.customer_table``).

Table ``cutoffs`` (partitioned by cutoff and tables): one row per (cutoff, tables), ``tables``
being "candidates" (candidate_sources, candidates, candidate_pair_features) or "features" (the
four feature tables); columns scope, customers (how many got rows), rows (JSON: rows written per
table), built_from (the fingerprint, null while a build is under way), everyone (for scope all: a
digest of the whole customers table, the customers without a purchase included), written_at.

Reuse (:func:`reusable`): to score a cutoff (scope all) its tables must be built for everyone
with the current fingerprint and the same customers table; to train on it (scope target_buyers),
either a buyers' build with the current fingerprint, or an everyone build with the current
fingerprint whose tables hold every buyer of the target week whose first purchase is in that week
(last week's prediction cutoff, built before those customers bought), at their current age.

The digests are order-free sums of one 64-bit hash per row (with the row count), per day, so that
one scan serves every bound and the file layout of a table does not matter.
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
from hmspark.features.compute import LEVELS
from hmspark.tables import read_table, table_exists, write_table

log = logging.getLogger("hmspark")

CUTOFFS_TABLE = "cutoffs"
SCOPE_ALL, SCOPE_BUYERS = "all", "target_buyers"
CANDIDATE_TABLES, FEATURE_TABLES = "candidates", "features"
GROUPS = (CANDIDATE_TABLES, FEATURE_TABLES)
# The train settings that decide which rows are sampled (the rest only shape the fit).
SAMPLING_SETTINGS = ("negatives_per_week", "negative_rate", "seed")
RECORD_COLUMNS = ("cutoff", "tables", "scope", "customers", "rows", "built_from", "everyone",
                  "written_at")
RECORD_PARTITIONS = ["cutoff", "tables"]
# The columns the candidate and feature builders read (hmspark.recall.build, features.build).
TRANSACTION_COLUMNS = ("t_dat", "customer_key", "article_id", "price", "sales_channel_id")
CUSTOMER_COLUMNS = ("customer_key", "age")
ARTICLE_COLUMNS = ("article_id", "product_type_no", *LEVELS)
# Settings that do not change the tables (only the recall report).
NOT_IN_TABLES = {CANDIDATE_TABLES: ("report_cuts",), FEATURE_TABLES: ()}


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


def frame_digest(df: DataFrame, columns=None) -> tuple[int, int]:
    """(rows, sum of a 64-bit hash of every row over ``columns``, default all): the same for the
    same multiset of rows, whatever their order or partitioning."""
    columns = list(columns or df.columns)
    row = df.agg(F.count(F.lit(1)).alias("n"), F.sum(_row_hash(columns)).alias("s")).first()
    return int(row["n"]), int(row["s"] or 0)


def _row_hash(columns):
    # decimal: the sum of ~10^8 64-bit values overflows a long (and ANSI mode raises on it).
    return F.xxhash64(*[F.col(c) for c in sorted(columns)]).cast("decimal(38,0)")


def day_digests(df: DataFrame, columns, day: str = "t_dat"
                ) -> list[tuple[dt.date | None, tuple[int, int]]]:
    """``frame_digest`` over ``columns`` of the rows of each value of ``day`` (one scan, one row
    per day; null last), sorted by day."""
    rows = (df.groupBy(day)
            .agg(F.count(F.lit(1)).alias("n"), F.sum(_row_hash(columns)).alias("s"))
            .collect())
    out = [(r[day], (int(r["n"]), int(r["s"] or 0))) for r in rows]
    return sorted(out, key=lambda x: (x[0] is None, x[0] or dt.date.min))


def _up_to(days, bound: dt.date) -> tuple[int, int]:
    n = s = 0
    for day, (dn, ds) in days:
        if day is None or day > bound:
            break
        n, s = n + dn, s + ds
    return n, s


class Fingerprints:
    """Fingerprints of the cutoffs of one warehouse, computed lazily: the per-day digests of the
    ``transactions``, ``customers`` (by first purchase) and ``articles`` (by first sale) tables are
    read once (a few scans of the transactions)."""

    def __init__(self, spark: SparkSession, warehouse: str | Path, settings: Settings):
        self.spark, self.warehouse = spark, str(warehouse)
        self._settings = {}
        for tables, cfg in ((CANDIDATE_TABLES, settings.recall),
                            (FEATURE_TABLES, settings.features)):
            values = dataclasses.asdict(cfg)
            for name in NOT_IN_TABLES[tables]:
                values.pop(name, None)
            self._settings[tables] = values
        self._sampling = {name: getattr(settings.train, name) for name in SAMPLING_SETTINGS}

    @cached_property
    def _code(self) -> str:
        return code_digest()

    @cached_property
    def _days(self) -> dict[str, list]:
        tx = read_table(self.spark, self.warehouse, "transactions").select(*TRANSACTION_COLUMNS)
        first_buy = tx.groupBy("customer_key").agg(F.min("t_dat").alias("_first"))
        first_sale = tx.groupBy("article_id").agg(F.min("t_dat").alias("_first"))
        customers = (read_table(self.spark, self.warehouse, "customers")
                     .select(*CUSTOMER_COLUMNS).join(first_buy, "customer_key", "left"))
        articles = (read_table(self.spark, self.warehouse, "articles")
                    .select(*ARTICLE_COLUMNS).join(first_sale, "article_id", "left"))
        return {"transactions": day_digests(tx, TRANSACTION_COLUMNS),
                "customers": day_digests(customers, CUSTOMER_COLUMNS, "_first"),
                "articles": day_digests(articles, ARTICLE_COLUMNS, "_first")}

    @cached_property
    def everyone(self) -> str:
        """A digest of the whole customers table (``CUSTOMER_COLUMNS``), those without a
        purchase included: what tables built for everyone hold a row of."""
        n, s = frame_digest(read_table(self.spark, self.warehouse, "customers"), CUSTOMER_COLUMNS)
        return f"{n}:{s}"

    def warm(self) -> None:
        """Read every digest now."""
        _ = (self._code, self._days, self.everyone)

    def transactions_up_to(self, bound: dt.date) -> tuple[int, int]:
        return _up_to(self._days["transactions"], bound)

    def of(self, cutoff: str | dt.date, scope: str, tables: str) -> str:
        """The fingerprint of ``tables`` (CANDIDATE_TABLES or FEATURE_TABLES) of ``cutoff`` built
        for ``scope`` (SCOPE_ALL or SCOPE_BUYERS)."""
        cutoff = as_date(cutoff)
        if scope not in (SCOPE_ALL, SCOPE_BUYERS):
            raise ValueError(f"unknown scope {scope!r}")
        bound = cutoff if scope == SCOPE_ALL else cutoff + dt.timedelta(days=TARGET_DAYS)
        parts = {"tables": tables, "scope": scope, "cutoff": cutoff.isoformat(),
                 "settings": self._settings[tables], "code": self._code,
                 **{name: _up_to(days, bound) for name, days in self._days.items()}}
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()

    def training(self, cutoff: str | dt.date) -> str:
        """The fingerprint of the sampled training rows of ``cutoff`` as a training week: its
        candidate and feature tables for the week's buyers (the rows an everyone build gives
        them are the same), the labels' week (in those fingerprints' bound) and the sampling
        settings.  Table ``training_rows`` stores it with the rows (``hmspark.pipeline``)."""
        parts = {"tables": "training_rows", "sampling": self._sampling,
                 **{tables: self.of(cutoff, SCOPE_BUYERS, tables) for tables in GROUPS}}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _predicate(cutoff: dt.date, tables: str) -> str:
    return f"cutoff = DATE'{cutoff.isoformat()}' AND tables = '{tables}'"


def _current_layout(spark: SparkSession, warehouse: str | Path) -> bool:
    from delta.tables import DeltaTable

    from hmspark.tables import table_path

    detail = DeltaTable.forPath(spark, table_path(warehouse, CUTOFFS_TABLE)).detail().first()
    columns = read_table(spark, warehouse, CUTOFFS_TABLE).columns
    return (list(detail["partitionColumns"]) == RECORD_PARTITIONS
            and set(columns) == set(RECORD_COLUMNS))


def record_tables(spark: SparkSession, warehouse: str | Path, cutoff: str | dt.date,
                  tables: str, scope: str, customers: int, built_from: str | None,
                  rows: dict[str, int] | None = None, everyone: str | None = None) -> None:
    """Write the row of ``cutoffs`` for (cutoff, tables), replacing the previous one (its own
    partition: builds of the two groups of one cutoff may run side by side).  A ``cutoffs``
    table of an older layout is replaced whole (its cutoffs are then rebuilt once)."""
    cutoff = as_date(cutoff)
    row = spark.createDataFrame(
        [(cutoff, tables, scope, int(customers), json.dumps(rows or {}, sort_keys=True),
          built_from, everyone)],
        "cutoff date, tables string, scope string, customers long, rows string, "
        "built_from string, everyone string").withColumn("written_at", F.current_timestamp())
    replace = _predicate(cutoff, tables)
    if table_exists(spark, warehouse, CUTOFFS_TABLE) and not _current_layout(spark, warehouse):
        log.warning("table %s has an older layout: replaced, its cutoffs' tables will be "
                    "rebuilt when needed", CUTOFFS_TABLE)
        replace = None
    write_table(row, warehouse, CUTOFFS_TABLE, partition_by=RECORD_PARTITIONS,
                replace_where=replace)


def recorded(spark: SparkSession, warehouse: str | Path, cutoff: str | dt.date
             ) -> dict[str, dict]:
    """{tables: {scope, customers, rows, built_from, everyone}} recorded for a cutoff (empty when
    none, or when table ``cutoffs`` has an older layout)."""
    if not table_exists(spark, warehouse, CUTOFFS_TABLE):
        return {}
    df = read_table(spark, warehouse, CUTOFFS_TABLE)
    if set(df.columns) != set(RECORD_COLUMNS):
        return {}
    out = {}
    for r in df.filter(F.col("cutoff") == F.lit(as_date(cutoff))).collect():
        out[r["tables"]] = {"scope": r["scope"], "customers": r["customers"],
                            "rows": json.loads(r["rows"] or "{}"),
                            "built_from": r["built_from"], "everyone": r["everyone"]}
    return out


def new_buyers_covered(spark: SparkSession, warehouse: str | Path, cutoff: str | dt.date) -> bool:
    """True when every buyer of the target week of ``cutoff`` whose first purchase is in that
    week has candidates at ``cutoff`` and a customer feature row with its current age (what an
    everyone build made before they bought must hold to serve as their training week)."""
    from hmspark.cutoff import target_week
    from hmspark.features.build import CUSTOMER

    cutoff = as_date(cutoff)
    tx = read_table(spark, warehouse, "transactions")
    new = (target_week(tx, cutoff).select("customer_key").distinct()
           .join(tx.filter(F.col("t_dat") <= F.lit(cutoff)).select("customer_key"),
                 "customer_key", "left_anti")
           .join(read_table(spark, warehouse, "customers").select(*CUSTOMER_COLUMNS),
                 "customer_key", "left"))
    on_cutoff = F.col("cutoff") == F.lit(cutoff)
    candidates = (read_table(spark, warehouse, "candidates").filter(on_cutoff)
                  .select("customer_key").distinct())
    features = (read_table(spark, warehouse, CUSTOMER).filter(on_cutoff)
                .select("customer_key", F.col("age").alias("_age")))
    missing = (new.join(candidates, "customer_key", "left_anti")
               .unionByName(new.join(features, "customer_key", "left_anti"))
               .unionByName(new.join(features, "customer_key")
                            .filter(~F.col("age").eqNullSafe(F.col("_age")))
                            .select(*new.columns)))
    return missing.limit(1).count() == 0


def reusable(spark: SparkSession, warehouse: str | Path, cutoff: str | dt.date, scope: str,
             fingerprints: Fingerprints) -> bool:
    """True when the candidate and feature tables of ``cutoff`` may be used for ``scope`` as they
    are (see the module docstring): "all" (to score every customer) only by tables built for
    everyone from the same customers table, "target_buyers" (to train) also by those."""
    records = recorded(spark, warehouse, cutoff)
    scopes = [SCOPE_ALL] if scope == SCOPE_ALL else [SCOPE_ALL, SCOPE_BUYERS]
    for tables in GROUPS:
        rec = records.get(tables)
        if rec is None or rec["scope"] not in scopes or rec["built_from"] is None:
            return False
        if rec["built_from"] != fingerprints.of(cutoff, rec["scope"], tables):
            return False
        if scope == SCOPE_ALL and rec["everyone"] != fingerprints.everyone:
            return False
    if scope == SCOPE_BUYERS and SCOPE_ALL in {r["scope"] for r in records.values()}:
        return new_buyers_covered(spark, warehouse, cutoff)
    return True
