"""Customer segments as of a cutoff: the per-customer profile, an RFM grid with readable names and
a k-means clustering (k chosen by silhouette), both labels per customer in ``customer_segments``,
and each segment's category preferences with their lift in ``segment_preferences`` (printed: the
segment sizes and top preferences).  See docs/insights.md.

    scripts/spark-submit.sh jobs/segments.py --warehouse DIR [--cutoff YYYY-MM-DD]
"""

from __future__ import annotations

from hmspark.cli import job_parser, run_job, settings_from_args
from hmspark.cutoff import as_date
from hmspark.insights import build_segments
from hmspark.session import build_session


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__)
    parser.add_argument("--warehouse", help="Delta warehouse folder (default: paths.warehouse)")
    parser.add_argument("--cutoff", type=as_date, default=None,
                        help="last day of history, yyyy-mm-dd (default: the last transaction date)")
    args = parser.parse_args(argv)
    settings = settings_from_args(args)
    spark = build_session(settings, args.master)
    result = build_segments(spark, args.warehouse or settings.paths.warehouse, args.cutoff,
                            settings.segments)
    print("\n" + "\n".join(result.lines()))
    return 0


if __name__ == "__main__":
    run_job(main)
