"""Ingest: the three Kaggle CSV files into the Delta tables ``articles``, ``customers``,
``transactions`` and ``quarantine``.

Every line is read as text and parsed with explicit types through ``try_*`` functions, so a bad
value never crashes the job (Spark 4 runs with ANSI mode on): the line goes to ``quarantine`` with
its file, its raw text and the reason.  For every file, lines read = rows written + rows
quarantined; ingest checks this and fails loudly if it ever does not hold.  A missing file, an
empty file or a missing column stops the job with a message naming the file and the column.

Tables are overwritten as a whole, so running ingest twice on the same input leaves the same tables.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from hmspark import schema as S
from hmspark.config import IngestSettings
from hmspark.tables import read_table, table_exists, write_table

LINE_NO = "_line"
HEADER = "_header"
# The ``reason`` of a repeated header line: counted and skipped, neither loaded nor quarantined.
HEADER_REASON = "\x00header"


class IngestError(ValueError):
    """Input that cannot be ingested at all (missing file or column); names the file and column."""


@dataclass
class FileCounts:
    read: int = 0
    written: int = 0
    quarantined: int = 0
    repeated_headers: int = 0

    def check(self, name: str) -> None:
        if self.read != self.written + self.quarantined:
            raise AssertionError(
                f"{name}: {self.read} lines read but {self.written} written + "
                f"{self.quarantined} quarantined = {self.written + self.quarantined}")


@dataclass
class IngestReport:
    """What ingest read and wrote, per file, plus the customers known only from transactions."""

    files: dict[str, FileCounts] = field(default_factory=dict)
    unknown_customers: int = 0
    first_date: str | None = None
    last_date: str | None = None
    quarantine_reasons: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"{'file':<24}{'read':>12}{'written':>12}{'quarantined':>13}"]
        for name, c in self.files.items():
            out.append(f"{name:<24}{c.read:>12,}{c.written:>12,}{c.quarantined:>13,}")
            if c.repeated_headers:
                out.append(f"  ({c.repeated_headers} repeated header line(s) skipped in {name})")
        out.append(f"customers seen in transactions but not in {S.CUSTOMERS_FILE}: "
                   f"{self.unknown_customers:,} (kept, in_customers_file = false)")
        out.append(f"transaction dates: {self.first_date} .. {self.last_date}")
        for reason, n in sorted(self.quarantine_reasons.items(), key=lambda kv: -kv[1]):
            out.append(f"  quarantined {n:>10,}  {reason}")
        return out


# ----------------------------------------------------------------------------------------------
# Reading lines


def _join_path(input_dir: str, name: str) -> str:
    return input_dir.rstrip("/") + "/" + name


def read_lines(spark: SparkSession, input_dir: str, name: str) -> tuple[list[str], DataFrame]:
    """The header of a CSV file and its lines (``value``, ``_line`` order, ``_header`` true on the
    header line and on every repeat of it: they are counted with the rest in one pass, later).

    Returns (header columns, lines).  Raises IngestError for a missing or empty file and for a
    header that lacks a required column.
    """
    path = _join_path(input_dir, name)
    try:
        text = spark.read.text(path)
        first = text.first()
    except AnalysisException as exc:
        if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
            raise IngestError(f"input file missing: {path}") from None
        raise
    if first is None:
        raise IngestError(f"{path}: file is empty (expected a header line)")
    header_line = first["value"]
    header = next(csv.reader([header_line]))
    header = [h.strip().lstrip("\ufeff") for h in header]
    missing = [c for c in S.FILE_COLUMNS[name] if c not in header]
    if missing:
        raise IngestError(f"{path}: missing column(s) {', '.join(missing)} "
                          f"(header has: {', '.join(header)})")
    lines = (text.withColumn(LINE_NO, F.monotonically_increasing_id())
             .withColumn(HEADER, F.col("value") == F.lit(header_line)))
    return header, lines


def split_fields(lines: DataFrame, header: list[str]) -> DataFrame:
    """Parse each line into one text column per header name, plus ``_fields`` = the field count."""
    ddl = ", ".join(f"`c{i}` STRING" for i in range(len(header) + 1))
    parsed = F.from_csv(F.col("value"), ddl, {"mode": "PERMISSIVE"})
    # Field count of a CSV line: commas outside double-quoted sections, plus one.  Most lines
    # (every transaction) have no quote and are split as they are; only lines with a quote pay
    # for the regular expression that drops the quoted sections first (on the 31.9M lines of the
    # full preset: 8-11 s against 14-20 s for the regular expression on every line; counting
    # commas with replace() was slower, 26-27 s).
    value = F.col("value")
    unquoted = F.regexp_replace(value, r'"([^"]|"")*"', "")
    n_fields = F.size(F.split(F.when(~value.contains('"'), value).otherwise(unquoted), ",", -1))
    cols = [parsed.getField(f"c{i}").alias(name) for i, name in enumerate(header)]
    return lines.select(F.col("value").alias("raw_line"), LINE_NO, HEADER,
                        n_fields.alias("_fields"), *cols)


# ----------------------------------------------------------------------------------------------
# Typing values; each check returns (typed column, reason column or None)


def _show(name: str) -> Column:
    return F.coalesce(F.col(name), F.lit(""))


def _reason(condition: Column, text: Column | str) -> Column:
    return F.when(condition, text if isinstance(text, Column) else F.lit(text))


def _typed(name: str, dtype: T.DataType) -> tuple[Column, Column]:
    """The typed value of a text column, and the reason it is bad (null when good or empty)."""
    raw = F.col(name)
    if isinstance(dtype, T.DateType):
        value = F.when(raw.rlike(r"^\d{4}-\d{2}-\d{2}$"), F.try_to_date(raw, "yyyy-MM-dd"))
        kind = "a date (yyyy-MM-dd)"
    elif isinstance(dtype, T.StringType):
        return raw, F.lit(None).cast("string")
    elif isinstance(dtype, (T.IntegerType, T.ShortType, T.ByteType)):
        value = F.when(raw.rlike(r"^\s*[+-]?\d+\s*$"), raw.try_cast(dtype))
        kind = "an integer"
    else:
        as_double = raw.try_cast(T.DoubleType())
        value = F.when(~F.isnan(as_double) & (F.abs(as_double) != F.lit(float("inf"))), as_double)
        kind = "a number"
    bad = raw.isNotNull() & value.isNull()
    return value, _reason(bad, F.concat(F.lit(f"{name} "), F.lit("'"), _show(name),
                                         F.lit(f"' is not {kind}")))


def typed_rows(fields: DataFrame, name: str, extra_checks: dict[str, Column] | None = None
               ) -> DataFrame:
    """Typed columns of a file plus ``reason``: why the row cannot be loaded (null when it can).

    Checks, first failing one wins: field count, required values present, values of the right
    type, then ``extra_checks`` (reason text -> condition on the typed columns, meaning 'bad').
    """
    columns = S.FILE_COLUMNS[name]
    expected = len([c for c in fields.columns if c not in ("raw_line", LINE_NO, HEADER, "_fields")])
    reasons = [_reason(F.col(HEADER), HEADER_REASON),
               _reason(F.col("_fields") != expected,
                       F.concat(F.lit(f"expected {expected} fields, found "),
                                F.col("_fields").cast("string")))]
    for col in columns:
        if col not in S.OPTIONAL_COLUMNS[name]:
            reasons.append(_reason(F.col(col).isNull() | (F.trim(F.col(col)) == ""),
                                   f"missing value in column {col}"))
    typed = {}
    for col, dtype in columns.items():
        value, reason = _typed(col, dtype)
        typed[col] = value
        reasons.append(reason)
    out = fields.select("raw_line", LINE_NO, *[v.alias(c) for c, v in typed.items()],
                        F.coalesce(*reasons).alias("reason"))
    for text, bad in (extra_checks or {}).items():
        out = out.withColumn("reason", F.coalesce("reason", _reason(bad, text)))
    return out


def first_occurrence(df: DataFrame, key: str) -> DataFrame:
    """Mark every later good row with an already-seen ``key`` as a duplicate (first line kept).

    Only good rows compete, so a bad first line does not shadow a good later one.
    """
    order = Window.partitionBy(key, F.col("reason").isNull()).orderBy(LINE_NO)
    later = F.col("reason").isNull() & F.col(key).isNotNull() & (F.row_number().over(order) > 1)
    return df.withColumn("reason", F.coalesce(
        "reason", _reason(later, f"duplicate {key} (first occurrence kept)")))


# ----------------------------------------------------------------------------------------------
# The three files


def parse_articles(spark: SparkSession, input_dir: str) -> DataFrame:
    header, lines = read_lines(spark, input_dir, S.ARTICLES_FILE)
    typed = typed_rows(split_fields(lines, header), S.ARTICLES_FILE, {
        "article_id must be a positive numeric id of at most 10 digits":
            ~F.col("article_id").isNull() & (F.col("article_id") <= 0),
    })
    return first_occurrence(typed, "article_id")


def parse_customers(spark: SparkSession, input_dir: str, cfg: IngestSettings) -> DataFrame:
    header, lines = read_lines(spark, input_dir, S.CUSTOMERS_FILE)
    age = F.col("age")
    typed = typed_rows(split_fields(lines, header), S.CUSTOMERS_FILE, {
        f"age outside {cfg.min_age}..{cfg.max_age} or not a whole number":
            age.isNotNull() & ((age < cfg.min_age) | (age > cfg.max_age) | (age != F.floor(age))),
        "FN must be 0, 1 or empty": F.col("FN").isNotNull() & ~F.col("FN").isin(0.0, 1.0),
        "Active must be 0, 1 or empty": F.col("Active").isNotNull() & ~F.col("Active").isin(0.0, 1.0),
    })
    return first_occurrence(typed, "customer_id")


def parse_transactions(spark: SparkSession, input_dir: str, cfg: IngestSettings) -> DataFrame:
    header, lines = read_lines(spark, input_dir, S.TRANSACTIONS_FILE)
    channels = ", ".join(str(c) for c in cfg.sales_channels)
    typed = typed_rows(split_fields(lines, header), S.TRANSACTIONS_FILE, {
        "price is negative": F.col("price") < 0,
        f"sales_channel_id not one of {channels}":
            F.col("sales_channel_id").isNotNull() & ~F.col("sales_channel_id").isin(*cfg.sales_channels),
        "article_id must be a positive numeric id":
            F.col("article_id").isNotNull() & (F.col("article_id") <= 0),
    })
    return typed


def normalise_news_frequency(col: Column) -> Column:
    """The real file mixes NONE, None and empty for 'no newsletter': NONE and None become NONE,
    empty stays null (unknown)."""
    return F.when(F.upper(col) == "NONE", F.lit("NONE")).when(F.trim(col) == "", None).otherwise(col)


def customer_table(good_customers: DataFrame, transaction_ids: DataFrame,
                   previous_keys: DataFrame | None = None) -> DataFrame:
    """customers.csv rows plus ids seen only in transactions, with an int key.

    Without ``previous_keys`` the key is dense, 0..n-1 in id order.  ``previous_keys``
    (customer_id, customer_key: the warehouse's customers table before this ingest): a known id
    keeps its key and a new id gets the next key after the largest one, in id order, so that a
    weekly export with new customers leaves everyone else's key -- and the tables of earlier
    cutoffs keyed by it (``hmspark.provenance``) -- as they were."""
    known = good_customers.select(
        "customer_id",
        F.col("FN").cast("tinyint").alias("fn"),
        F.col("Active").cast("tinyint").alias("active"),
        F.nullif(F.col("club_member_status"), F.lit("")).alias("club_member_status"),
        normalise_news_frequency(F.col("fashion_news_frequency")).alias("fashion_news_frequency"),
        F.col("age").cast("int").alias("age"),
        F.nullif(F.col("postal_code"), F.lit("")).alias("postal_code"),
        F.lit(True).alias("in_customers_file"),
    )
    unknown = (transaction_ids.join(known.select("customer_id"), "customer_id", "left_anti")
               .select("customer_id",
                       *[F.lit(None).cast(f.dataType).alias(f.name)
                         for f in S.CUSTOMERS_SCHEMA.fields
                         if f.name not in ("customer_id", "customer_key", "in_customers_file")],
                       F.lit(False).alias("in_customers_file")))
    both = known.unionByName(unknown)
    if previous_keys is None:
        key = (F.row_number().over(Window.orderBy("customer_id")) - 1).cast("int")
        return both.withColumn("customer_key", key).select(*S.CUSTOMERS_SCHEMA.fieldNames())
    previous_keys = previous_keys.select("customer_id", "customer_key")
    start = previous_keys.agg(F.max("customer_key")).first()[0]
    start = -1 if start is None else int(start)
    kept = both.join(previous_keys, "customer_id", "inner")
    new = (both.join(previous_keys, "customer_id", "left_anti")
           .withColumn("customer_key", (F.lit(start) + F.row_number().over(
               Window.orderBy("customer_id"))).cast("int")))
    return kept.unionByName(new).select(*S.CUSTOMERS_SCHEMA.fieldNames())


def _drop_good_lines(df: DataFrame) -> DataFrame:
    """Keep ``raw_line`` only where the row is quarantined: the cached frame then holds the typed
    values of the good rows, not a second copy of their text."""
    return df.withColumn("raw_line", F.when(F.col("reason").isNotNull(), F.col("raw_line")))


def quarantine_rows(df: DataFrame, name: str) -> DataFrame:
    return df.filter(F.col("reason").isNotNull() & (F.col("reason") != HEADER_REASON)).select(
        F.lit(name).alias("source_file"), "raw_line", "reason")


def ingest(spark: SparkSession, input_dir: str, warehouse: str,
           cfg: IngestSettings | None = None) -> IngestReport:
    """Read the three CSV files under ``input_dir`` and (re)write the warehouse tables."""
    cfg = cfg or IngestSettings()
    report = IngestReport()

    articles = parse_articles(spark, input_dir)
    customers = parse_customers(spark, input_dir, cfg)
    transactions = parse_transactions(spark, input_dir, cfg)

    articles = _drop_good_lines(articles).persist(StorageLevel.MEMORY_AND_DISK)
    good_articles = articles.filter(F.col("reason").isNull())
    article_ids = good_articles.select("article_id")
    transactions = (transactions
                    .join(F.broadcast(article_ids.withColumn("_known", F.lit(True))),
                          "article_id", "left")
                    .withColumn("reason", F.coalesce(
                        "reason", _reason(F.col("_known").isNull(),
                                          F.concat(F.lit("article_id '"),
                                                   F.col("article_id").cast("string"),
                                                   F.lit(f"' is not in {S.ARTICLES_FILE}")))))
                    .drop("_known", LINE_NO))
    transactions = _drop_good_lines(transactions).persist(StorageLevel.MEMORY_AND_DISK)
    customers = _drop_good_lines(customers).persist(StorageLevel.MEMORY_AND_DISK)

    # One pass over each cached file: lines read, quarantined, repeated headers (and the dates).
    counts = {}
    for name, df in ((S.ARTICLES_FILE, articles), (S.CUSTOMERS_FILE, customers),
                     (S.TRANSACTIONS_FILE, transactions)):
        header = F.col("reason") == F.lit(HEADER_REASON)
        good = F.col("reason").isNull()
        aggs = [F.count_if(~header | good).alias("read"),
                F.count_if(~header).alias("bad"),
                F.count_if(header).alias("headers")]
        if name == S.TRANSACTIONS_FILE:
            aggs += [F.min(F.when(good, F.col("t_dat"))).alias("first"),
                     F.max(F.when(good, F.col("t_dat"))).alias("last")]
        row = df.agg(*aggs).first()
        counts[name] = FileCounts(read=row["read"], quarantined=row["bad"],
                                  repeated_headers=max(0, row["headers"] - 1))
        if name == S.TRANSACTIONS_FILE:
            report.first_date = str(row["first"]) if row["first"] else None
            report.last_date = str(row["last"]) if row["last"] else None

    good_tx = transactions.filter(F.col("reason").isNull())
    # Keys stay those of the warehouse's customers table, when there is one (customer_table).
    # The old keys are read (a Delta snapshot, kept in memory) before the table is overwritten.
    previous = None
    if table_exists(spark, warehouse, "customers"):
        previous = (read_table(spark, warehouse, "customers").select("customer_id", "customer_key")
                    .persist(StorageLevel.MEMORY_AND_DISK))
        previous.count()
    customers_out = customer_table(customers.filter(F.col("reason").isNull()),
                                   good_tx.select("customer_id").distinct(), previous)
    write_table(good_articles.select(*S.ARTICLES_SCHEMA.fieldNames()), warehouse, "articles")
    cust_path = write_table(customers_out, warehouse, "customers")
    customer_keys = spark.read.format("delta").load(cust_path).select("customer_id", "customer_key")

    last = F.lit(report.last_date).cast("date")
    # Broadcast the id -> key map (1.4M pairs at full scale) instead of shuffling 32M rows by id.
    tx_out = (good_tx.join(F.broadcast(customer_keys), "customer_id")
              .withColumn("week", F.floor(F.datediff(last, F.col("t_dat")) / 7).cast("int"))
              .select(*S.TRANSACTIONS_SCHEMA.fieldNames()))
    n_files = max(1, math.ceil((counts[S.TRANSACTIONS_FILE].read or 1) / cfg.rows_per_file))
    write_table(tx_out.repartitionByRange(n_files, "t_dat").sortWithinPartitions("t_dat", "customer_key"),
                warehouse, "transactions")

    quarantine = (quarantine_rows(articles, S.ARTICLES_FILE)
                  .unionByName(quarantine_rows(customers, S.CUSTOMERS_FILE))
                  .unionByName(quarantine_rows(transactions, S.TRANSACTIONS_FILE)))
    q_path = write_table(quarantine.coalesce(1), warehouse, "quarantine")

    # Counts of what is now in the tables, read back from Delta.
    tables = {n: spark.read.format("delta").load(f"{warehouse.rstrip('/')}/{n}")
              for n in ("articles", "customers", "transactions")}
    counts[S.ARTICLES_FILE].written = tables["articles"].count()
    cust_counts = tables["customers"].groupBy("in_customers_file").count().collect()
    by_flag = {r["in_customers_file"]: r["count"] for r in cust_counts}
    counts[S.CUSTOMERS_FILE].written = by_flag.get(True, 0)
    report.unknown_customers = by_flag.get(False, 0)
    counts[S.TRANSACTIONS_FILE].written = tables["transactions"].count()
    q = spark.read.format("delta").load(q_path)
    report.quarantine_reasons = {
        f"{r['source_file']}: {r['reason']}": r["count"]
        for r in q.withColumn("reason", F.regexp_replace("reason", r"'[^']*'", "'…'"))
        .groupBy("source_file", "reason").count().collect()}
    for name, c in counts.items():
        c.check(name)
    report.files = counts
    for df in (articles, customers, transactions, previous):
        if df is not None:
            df.unpersist()
    tx = counts[S.TRANSACTIONS_FILE]
    if tx.written == 0:
        # Nothing downstream can run on no transactions; the quarantine table (written above)
        # says why each row was refused.
        raise IngestError(
            f"{_join_path(input_dir, S.TRANSACTIONS_FILE)}: no usable rows ({tx.read:,} read, "
            f"{tx.quarantined:,} quarantined"
            + ("; reasons in the quarantine table)" if tx.quarantined else ": only a header)"))
    return report
