"""Reading and writing the warehouse's Delta tables (one folder per table under the warehouse)."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession


class TableNotFound(FileNotFoundError):
    """A Delta table the job needs is not in the warehouse (usually: run ingest first)."""


def table_path(warehouse: str | Path, name: str) -> str:
    return str(Path(warehouse).resolve() / name)


def table_exists(spark: SparkSession, warehouse: str | Path, name: str) -> bool:
    from delta.tables import DeltaTable

    return DeltaTable.isDeltaTable(spark, table_path(warehouse, name))


def read_table(spark: SparkSession, warehouse: str | Path, name: str) -> DataFrame:
    """The current version of a warehouse table; a clear error when it does not exist."""
    if not table_exists(spark, warehouse, name):
        raise TableNotFound(f"Delta table '{name}' not found under {warehouse} "
                            f"({table_path(warehouse, name)}); has the job that writes it run?")
    return spark.read.format("delta").load(table_path(warehouse, name))


def table_version(spark: SparkSession, warehouse: str | Path, name: str) -> int:
    """The latest commit version of a table (recorded with models for reproducibility)."""
    from delta.tables import DeltaTable

    row = DeltaTable.forPath(spark, table_path(warehouse, name)).history(1).collect()[0]
    return int(row["version"])


def write_table(df: DataFrame, warehouse: str | Path, name: str, *,
                partition_by: list[str] | None = None,
                replace_where: str | None = None) -> str:
    """Write ``df`` as table ``name``: replace it whole, or only the rows matching ``replace_where``.

    Overwriting (never appending) makes every job idempotent: running it twice leaves the same table.
    """
    path = table_path(warehouse, name)
    writer = df.write.format("delta").mode("overwrite")
    if replace_where is not None:
        # A column added by a newer version of the code joins the table (older rows read null).
        writer = writer.option("replaceWhere", replace_where).option("mergeSchema", "true")
    else:
        writer = writer.option("overwriteSchema", "true")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.save(path)
    return path
