"""The HTML report: data overview, candidate recall, MAP@12 of the ranker vs the baselines, feature
importances, MAP@12 by segment, segments and their category preferences, CLTV per segment; one
self-contained file (images embedded) at OUTPUT/report.html.  A section whose input is missing
says which job to run.  See docs/insights.md.

    scripts/spark-submit.sh jobs/report.py --warehouse DIR --output DIR [--cutoff YYYY-MM-DD]
        [--metrics FILE] [--build-insights]

OUTPUT is the pipeline's output folder (its metrics.json holds the backtest scores).
--build-insights first runs jobs/segments.py and jobs/cltv.py for the report's cutoff.
"""

from __future__ import annotations

from hmspark.cli import job_parser, run_job, settings_from_args
from hmspark.cutoff import as_date
from hmspark.insights import run_insights
from hmspark.insights.report import write_report
from hmspark.session import build_session


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__)
    parser.add_argument("--warehouse", help="Delta warehouse folder (default: paths.warehouse)")
    parser.add_argument("--output", help="folder of metrics.json and report.html "
                                         "(default: paths.output)")
    parser.add_argument("--cutoff", type=as_date, default=None,
                        help="the report's cutoff (default: the backtest's, else the newest "
                             "recommendations', else the last transaction date)")
    parser.add_argument("--metrics", default=None, help="metrics.json (default: OUTPUT/metrics.json)")
    parser.add_argument("--build-insights", action="store_true",
                        help="compute segments and CLTV for the cutoff before writing the report")
    args = parser.parse_args(argv)
    settings = settings_from_args(args)
    spark = build_session(settings, args.master)
    warehouse = args.warehouse or settings.paths.warehouse
    output = args.output or settings.paths.output
    if args.build_insights:
        path = run_insights(spark, settings, warehouse, output, args.cutoff,
                            metrics_path=args.metrics)
    else:
        path = write_report(spark, warehouse, output, cutoff=args.cutoff, settings=settings,
                            metrics_path=args.metrics)
    print(f"report: {path.resolve()}")
    return 0


if __name__ == "__main__":
    run_job(main)
