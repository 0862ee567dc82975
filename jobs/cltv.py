"""Customer lifetime value as of a cutoff: the per-customer summary (Spark), a BG/NBD model of
purchase days and a Gamma-Gamma model of spend (lifetimes), expected purchases and value over
cltv.horizon_weeks for every customer (``customer_cltv``), totals and distributions per segment
(``cltv_segments``), and a holdout check of the model fitted cltv.holdout_weeks earlier
(``cltv_holdout``); all printed.  See docs/insights.md.

    scripts/spark-submit.sh jobs/cltv.py --warehouse DIR [--cutoff YYYY-MM-DD]

Run jobs/segments.py for the same cutoff first to get the values by cluster too (without it, by
RFM segment only).  A model that cannot be fitted (too little history, no convergence) is reported
and leaves the expected values empty; the job still succeeds.
"""

from __future__ import annotations

from hmspark.cli import job_parser, run_job, settings_from_args
from hmspark.cutoff import as_date
from hmspark.insights import build_cltv
from hmspark.session import build_session


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__)
    parser.add_argument("--warehouse", help="Delta warehouse folder (default: paths.warehouse)")
    parser.add_argument("--cutoff", type=as_date, default=None,
                        help="last day of history, yyyy-mm-dd (default: the last transaction date)")
    args = parser.parse_args(argv)
    settings = settings_from_args(args)
    spark = build_session(settings, args.master)
    result = build_cltv(spark, args.warehouse or settings.paths.warehouse, args.cutoff,
                        settings.cltv, settings.segments)
    print("\n" + "\n".join(result.lines()))
    return 0


if __name__ == "__main__":
    run_job(main)
