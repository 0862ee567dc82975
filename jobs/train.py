"""Train the LightGBM ranker for a prediction cutoff and save it (OUTPUT/model: model.txt and
meta.json with the features, the training cutoffs and the Delta table versions read).

    scripts/spark-submit.sh jobs/train.py --warehouse DIR --output DIR [--cutoff YYYY-MM-DD]

The training cutoffs are the train.train_weeks weekly cutoffs before the prediction cutoff (the
newest is the validation week).  Their candidate and feature tables are built unless the
warehouse holds them built from the same code, settings and data (hmspark.provenance;
--rebuild: always).
"""

import logging

from hmspark.cli import job_parser, run_job, settings_from_args, step
from hmspark.cutoff import as_date
from hmspark.features.compute import article_history
from hmspark.pipeline import (has_cutoff, plan_training, prepare_cutoff, resolve_cutoff,
                              train_model, training_scope)
from hmspark.provenance import SCOPE_BUYERS, Fingerprints
from hmspark.session import build_session
from hmspark.tables import read_table

log = logging.getLogger("hmspark")


def main() -> int:
    parser = job_parser(__doc__)
    parser.add_argument("--warehouse", help="Delta warehouse folder (default: paths.warehouse)")
    parser.add_argument("--output", help="folder for the model (default: paths.output)")
    parser.add_argument("--cutoff", type=as_date, default=None,
                        help="prediction cutoff, YYYY-MM-DD (default: the last transaction date)")
    parser.add_argument("--rebuild", action="store_true",
                        help="rebuild the training cutoffs' candidate and feature tables")
    args = parser.parse_args()
    settings = settings_from_args(args)
    spark = build_session(settings, args.master)
    warehouse = args.warehouse or settings.paths.warehouse
    transactions = read_table(spark, warehouse, "transactions")
    cutoff, _ = resolve_cutoff(transactions, args.cutoff)
    cutoffs = plan_training(transactions, cutoff, settings)
    if not cutoffs:
        log.error("cannot train a ranker for cutoff %s: the history is too short (the pipeline "
                  "job falls back to the heuristic in that case)", cutoff)
        return 2
    fingerprints = Fingerprints(spark, warehouse, settings)
    todo = [c for c in cutoffs
            if args.rebuild or not has_cutoff(spark, warehouse, c, SCOPE_BUYERS, fingerprints)]
    for c in sorted(set(cutoffs) - set(todo)):
        log.info("cutoff %s: candidate and feature tables built from the same code, settings "
                 "and data: reused", c)
    if todo:
        # The per-article daily history once, up to the newest cutoff built (as the pipeline).
        history = article_history(transactions, read_table(spark, warehouse, "customers"),
                                  max(todo)).persist()
        try:
            for c in todo:
                prepare_cutoff(spark, settings, warehouse, c,
                               scope=training_scope(transactions, c, settings),
                               article_history=history, fingerprints=fingerprints)
        finally:
            history.unpersist()
    with step("train") as info:
        model = train_model(spark, settings, warehouse, transactions, cutoff, cutoffs,
                            fingerprints=fingerprints, rebuild=args.rebuild)
        folder = model.save(f"{args.output or settings.paths.output}/model")
        info.update(rows=model.meta["train_rows"], positives=model.meta["train_positives"],
                    rounds=model.meta["best_rounds"])
    print(f"model for cutoff {cutoff} in {folder}: trained on {', '.join(model.meta['train_cutoffs'])}"
          f", validated on {model.meta['valid_cutoff']} (candidate MAP@12 "
          f"{model.meta['valid_candidate_map_at_12']})")
    for name, gain in list(model.importances().items())[:15]:
        print(f"  {name:<40}{gain:>14.1f}")
    return 0


if __name__ == "__main__":
    run_job(main)
