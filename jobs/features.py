"""Write the feature tables as of a cutoff (features_customer_article, features_customer_category,
features_article, features_customer), each partitioned by cutoff; a re-run replaces only that
cutoff's partition.

    scripts/spark-submit.sh jobs/features.py --warehouse DIR [--cutoff YYYY-MM-DD]
"""

from __future__ import annotations

import logging
import time

from hmspark.cli import job_parser, run_job, settings_from_args
from hmspark.cutoff import as_date
from hmspark.cutoff import last_date
from hmspark.pipeline import build_cutoff_features
from hmspark.tables import read_table
from hmspark.session import build_session

log = logging.getLogger("hmspark")


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__)
    parser.add_argument("--warehouse", help="Delta warehouse folder (default: paths.warehouse)")
    parser.add_argument("--cutoff", type=as_date, default=None,
                        help="last day of history, yyyy-mm-dd (default: the last transaction date)")
    args = parser.parse_args(argv)
    settings = settings_from_args(args)
    spark = build_session(settings, args.master)
    start = time.perf_counter()
    warehouse = args.warehouse or settings.paths.warehouse
    cutoff = args.cutoff or last_date(read_table(spark, warehouse, "transactions"))
    counts = build_cutoff_features(spark, settings, warehouse, cutoff)
    log.info("features: %s in %.1f s", ", ".join(f"{k}={v:,}" for k, v in counts.items()),
             time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    run_job(main)
