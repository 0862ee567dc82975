"""Score every customer with a trained ranker: table recommendations (12 per customer) and
OUTPUT/submission.csv in the Kaggle format.

    scripts/spark-submit.sh jobs/score.py --warehouse DIR --output DIR [--model DIR] [--cutoff D]

The cutoff's candidate and feature tables are built unless the warehouse holds them built from
the same code, settings and data (hmspark.provenance).  --heuristic ranks without a
model (repurchase, co-purchase pairs, bestsellers).  Scoring runs on the executors.
"""

import logging

from hmspark.cli import job_parser, run_job, settings_from_args, step
from hmspark.cutoff import as_date
from hmspark.pipeline import has_cutoff, prepare_cutoff, recommend, resolve_cutoff
from hmspark.provenance import SCOPE_ALL, Fingerprints
from hmspark.ranker.model import TrainedModel
from hmspark.session import build_session
from hmspark.submission import submission_frame, write_submission
from hmspark.tables import read_table

log = logging.getLogger("hmspark")


def main() -> int:
    parser = job_parser(__doc__)
    parser.add_argument("--warehouse", help="Delta warehouse folder (default: paths.warehouse)")
    parser.add_argument("--output", help="folder for submission.csv (default: paths.output)")
    parser.add_argument("--model", default=None, help="model folder (default: OUTPUT/model)")
    parser.add_argument("--heuristic", action="store_true", help="rank without a model")
    parser.add_argument("--cutoff", type=as_date, default=None,
                        help="last day of history, YYYY-MM-DD (default: the last transaction date)")
    args = parser.parse_args()
    settings = settings_from_args(args)
    output = args.output or settings.paths.output
    model = None
    if not args.heuristic:
        try:
            model = TrainedModel.load(args.model or f"{output}/model")
        except FileNotFoundError as exc:
            log.error("%s (or pass --heuristic)", exc)
            return 2
    spark = build_session(settings, args.master)
    warehouse = args.warehouse or settings.paths.warehouse
    transactions = read_table(spark, warehouse, "transactions")
    cutoff, _ = resolve_cutoff(transactions, args.cutoff)
    if model is not None and model.meta.get("prediction_cutoff") != str(cutoff):
        log.warning("the model was trained for cutoff %s; scoring cutoff %s",
                    model.meta.get("prediction_cutoff"), cutoff)
    fingerprints = Fingerprints(spark, warehouse, settings)
    if not has_cutoff(spark, warehouse, cutoff, SCOPE_ALL, fingerprints):
        prepare_cutoff(spark, settings, warehouse, cutoff, fingerprints=fingerprints)
    with step("score") as info:
        recs, _, _ = recommend(spark, warehouse, transactions, cutoff, model)
        path = write_submission(submission_frame(recs, read_table(spark, warehouse, "customers")),
                                f"{output}/submission.csv")
        info["rows"] = recs.count()
    print(f"recommendations for cutoff {cutoff}: {info['rows']:,} rows; submission {path}")
    return 0


if __name__ == "__main__":
    run_job(main)
