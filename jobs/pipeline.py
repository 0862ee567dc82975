"""The main job: ingest -> candidates -> features -> train -> score in one spark-submit.

    scripts/spark-submit.sh jobs/pipeline.py --input DIR --warehouse DIR --output DIR [--as-of DATE]

Without --as-of it predicts the 7 days after the last transaction date and writes
OUTPUT/submission.csv.  With --as-of D it backtests: predicts the 7 days after D from data up to D
and prints (and writes OUTPUT/metrics.json) MAP@12 of the ranker next to the baselines.
"""

from hmspark.cli import as_of_arg, job_parser, run_job, settings_from_args
from hmspark.pipeline import metrics_table, run_pipeline
from hmspark.session import build_session


def main() -> int:
    parser = job_parser(__doc__)
    parser.add_argument("--input", help="folder with the three CSV files (default: paths.input)")
    parser.add_argument("--warehouse", help="Delta warehouse folder (default: paths.warehouse)")
    parser.add_argument("--output", help="folder for submission.csv, metrics.json and the model "
                                         "(default: paths.output)")
    parser.add_argument("--as-of", default=None, type=as_of_arg, help="backtest: predict the week after this date "
                             "('last-week': the last date in the data minus 7 days)")
    parser.add_argument("--skip-ingest", action="store_true",
                        help="use the warehouse tables as they are")
    parser.add_argument("--rebuild", action="store_true",
                        help="build every cutoff's candidate and feature tables, also those the "
                             "warehouse holds from the same code, settings and data")
    parser.add_argument("--skip-insights", action="store_true",
                        help="no segments, CLTV and report.html at the end")
    args = parser.parse_args()
    settings = settings_from_args(args)
    spark = build_session(settings, args.master)
    result = run_pipeline(spark, settings,
                          input_dir=None if args.skip_ingest else (args.input or settings.paths.input),
                          warehouse=args.warehouse or settings.paths.warehouse,
                          output_dir=args.output or settings.paths.output, as_of=args.as_of,
                          insights=not args.skip_insights, rebuild=args.rebuild)
    print(f"\ncutoff {result.cutoff}  mode {result.mode}  submission {result.submission}")
    print(f"{'step':<28}{'seconds':>9}{'rows':>14}")
    for s in result.steps:
        rows = s.get("rows")
        print(f"{s['step']:<28}{s['seconds']:>9.1f}{rows if rows is not None else '':>14,}"
              if isinstance(rows, int) else f"{s['step']:<28}{s['seconds']:>9.1f}")
    if result.recall:
        print(f"\nrecall of the candidates (the ranker's ceiling):\n{result.recall}")
    if result.metrics:
        print(f"\nbacktest: the 7 days after {result.cutoff}")
        print("\n".join(metrics_table(result.metrics)))
    if result.report:
        print(f"\nreport: {result.report.resolve()}")
    if result.importances:
        print("\nfeature importance (gain), top 15:")
        for name, gain in list(result.importances.items())[:15]:
            print(f"  {name:<40}{gain:>14.1f}")
    return 0


if __name__ == "__main__":
    run_job(main)
