"""The Kaggle submission file: ``customer_id,prediction`` with 12 space-separated 10-digit article
ids (leading zeros kept), one line per customer of customers.csv."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from hmspark.metrics import K


def submission_frame(recommendations: DataFrame, customers: DataFrame) -> DataFrame:
    """(customer_id, prediction) for every customer with ``in_customers_file``; ranks in order."""
    ordered = (recommendations.groupBy("customer_key")
               .agg(F.array_sort(F.collect_list(F.struct("rank", "article_id"))).alias("recs"))
               .select("customer_key",
                       F.concat_ws(" ", F.transform(
                           "recs", lambda r: F.lpad(r["article_id"].cast("string"), 10, "0")))
                       .alias("prediction")))
    return (customers.filter("in_customers_file").select("customer_id", "customer_key")
            .join(ordered, "customer_key", "left")
            .select("customer_id", "prediction"))


def write_submission(frame: DataFrame, path: str | Path) -> Path:
    """Write one CSV file at ``path`` (Spark writes a folder; its single part is moved into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".submission-") as tmp:
        out = Path(tmp) / "csv"
        (frame.orderBy("customer_id").coalesce(1).write.mode("overwrite")
         .option("header", "true").csv(str(out)))
        parts = sorted(out.glob("part-*.csv"))
        if len(parts) != 1:
            raise RuntimeError(f"expected one CSV part in {out}, found {len(parts)}")
        shutil.move(str(parts[0]), path)
    return path


def check_submission(path: str | Path, customer_ids: set[str], k: int = K) -> int:
    """Validate a submission file; returns its row count, raises ValueError naming the bad line."""
    seen: set[str] = set()
    with open(path) as fh:
        header = fh.readline().rstrip("\n")
        if header != "customer_id,prediction":
            raise ValueError(f"{path}: header is {header!r}, expected 'customer_id,prediction'")
        for n, line in enumerate(fh, start=2):
            cid, _, pred = line.rstrip("\n").partition(",")
            ids = pred.split(" ")
            if cid in seen:
                raise ValueError(f"{path}:{n}: customer {cid} appears twice")
            seen.add(cid)
            if len(ids) != k or len(set(ids)) != k or not all(len(i) == 10 and i.isdigit() for i in ids):
                raise ValueError(f"{path}:{n}: prediction must be {k} distinct 10-digit ids: {pred!r}")
    missing = customer_ids - seen
    extra = seen - customer_ids
    if missing or extra:
        raise ValueError(f"{path}: {len(missing)} customers missing, {len(extra)} unknown")
    return len(seen)
