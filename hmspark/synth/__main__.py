"""Command line: ``python -m hmspark.synth --preset small --out DIR [--seed N] [--stats]``."""

from __future__ import annotations

import argparse
import json
import sys
import time

from hmspark.synth.core import simulate
from hmspark.synth.params import PRESETS, REAL_END_DATE
from hmspark.synth.stats import REAL, format_table, realism_stats
from hmspark.synth.writer import write_world


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m hmspark.synth",
                                     description="Write simulated H&M-like Kaggle CSV files.")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--articles", help="use this articles.csv as the catalogue")
    parser.add_argument("--customers", help="use this customers.csv as the customer base")
    parser.add_argument("--end-date", default=None,
                        help=f"last transaction date (default {REAL_END_DATE})")
    parser.add_argument("--weeks", type=int, default=None,
                        help="length of the window in weeks (default: the preset's)")
    parser.add_argument("--stats", action="store_true",
                        help="print the realism statistics next to the real data's")
    parser.add_argument("--stats-json", help="also save the statistics to this JSON file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    world = simulate(args.preset, args.seed, articles_path=args.articles,
                     customers_path=args.customers, end_date=args.end_date,
                     days=args.weeks * 7 if args.weeks else None)
    simulated = time.perf_counter()
    counts = write_world(world, args.out)
    written = time.perf_counter()
    for name, rows in counts.items():
        print(f"{args.out}/{name}: {rows:,} rows")
    print(f"simulated in {simulated - started:.1f} s, written in {written - simulated:.1f} s "
          f"(preset {args.preset}, seed {args.seed}, {world.dates[0]} .. {world.dates[-1]})")
    if args.stats or args.stats_json:
        stats = realism_stats(world.transactions_table(), world.customers, world.articles)
        print(f"statistics in {time.perf_counter() - written:.1f} s")
        if args.stats:
            print(format_table({"real": REAL, args.preset: stats}))
        if args.stats_json:
            with open(args.stats_json, "w") as handle:
                json.dump(stats, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
