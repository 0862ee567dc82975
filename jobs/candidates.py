"""Candidate generation as of a cutoff: writes candidate_sources, candidates and
candidate_pair_features (the cutoff's partition only); --evaluate adds the recall report of a
cutoff whose next week is in the data (table recall_report, printed).

    scripts/spark-submit.sh jobs/candidates.py --warehouse DIR [--cutoff YYYY-MM-DD] [--evaluate]
"""

from __future__ import annotations

import logging

from hmspark.cli import job_parser, run_job, settings_from_args
from hmspark.cutoff import as_date, last_date
from hmspark.pipeline import build_cutoff_candidates
from hmspark.recall import RecallError, evaluate, format_report
from hmspark.recall.build import check_target_known
from hmspark.session import build_session
from hmspark.tables import read_table

log = logging.getLogger("hmspark")


def main(argv: list[str] | None = None) -> int:
    parser = job_parser(__doc__)
    parser.add_argument("--warehouse", help="Delta warehouse folder (default: paths.warehouse)")
    parser.add_argument("--cutoff", default=None,
                        help="last day of known history, YYYY-MM-DD (default: the last "
                             "transaction date)")
    parser.add_argument("--evaluate", action="store_true",
                        help="also write and print the recall report against the target week")
    args = parser.parse_args(argv)
    settings = settings_from_args(args)
    try:
        cutoff = as_date(args.cutoff) if args.cutoff else None
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    spark = build_session(settings, args.master)
    warehouse = args.warehouse or settings.paths.warehouse
    if cutoff is None:
        cutoff = last_date(read_table(spark, warehouse, "transactions"))
    if args.evaluate:
        # Fail before the long part when the target week is not in the data.
        try:
            check_target_known(read_table(spark, warehouse, "transactions"), cutoff)
        except RecallError as exc:
            log.error("%s", exc)
            return 2
    log.info("candidates as of cutoff %s in %s", cutoff, warehouse)
    counts = build_cutoff_candidates(spark, settings, warehouse, cutoff)
    print(" ".join(f"{k}={v:,}" for k, v in counts.items()))
    if args.evaluate:
        print(format_report(evaluate(spark, warehouse, cutoff, settings.recall)))
    return 0


if __name__ == "__main__":
    run_job(main)
