"""Ingest the Kaggle CSV files (articles, customers, transactions_train) into Delta tables.

    scripts/spark-submit.sh jobs/ingest.py --input DIR --warehouse DIR
"""

from hmspark.cli import job_parser, run_job, settings_from_args
from hmspark.ingest import ingest
from hmspark.session import build_session


def main() -> int:
    parser = job_parser(__doc__)
    parser.add_argument("--input", help="folder with the three CSV files (default: paths.input)")
    parser.add_argument("--warehouse", help="Delta warehouse folder (default: paths.warehouse)")
    args = parser.parse_args()
    settings = settings_from_args(args)
    spark = build_session(settings, args.master)
    report = ingest(spark, args.input or settings.paths.input,
                    args.warehouse or settings.paths.warehouse, settings.ingest)
    print("\n".join(report.lines()))
    return 0


if __name__ == "__main__":
    run_job(main)
