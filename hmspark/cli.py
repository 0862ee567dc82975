"""Command-line plumbing shared by the jobs: conf file, master, overrides, logging, exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator

from hmspark.config import ConfigError, Settings, load_settings

log = logging.getLogger("hmspark")

DEFAULT_CONF = os.environ.get("HMSPARK_CONF", "conf/local.toml")


def job_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every job takes."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conf", default=None,
                        help=f"TOML conf file (default: $HMSPARK_CONF or {DEFAULT_CONF} if present)")
    parser.add_argument("--master", default=None,
                        help="Spark master (local[*], spark://host:port, ...); overrides the conf")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE", help="override one setting (repeatable)")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    conf = args.conf
    if conf is None and os.path.isfile(DEFAULT_CONF):
        conf = DEFAULT_CONF
    settings = load_settings(conf, args.overrides)
    return settings


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stdout)
    logging.getLogger("py4j").setLevel(logging.WARNING)


@contextmanager
def step(name: str) -> Iterator[dict]:
    """Log the start and the duration of a step; the caller may put counts into the yielded dict."""
    info: dict = {}
    start = time.perf_counter()
    log.info("%s: started", name)
    yield info
    info["seconds"] = round(time.perf_counter() - start, 2)
    extra = " ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in info.items())
    log.info("%s: done %s", name, extra)


def as_of_arg(value: str) -> str:
    """argparse type of ``--as-of``: ``last-week`` or a date (yyyy-mm-dd), checked before Spark
    starts."""
    import argparse
    import datetime as dt

    if value == "last-week":
        return value
    try:
        return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{value}' is neither a date (yyyy-mm-dd) nor 'last-week'") from None


def run_job(main: Callable[[], int]) -> None:
    """Run a job's main; expected failures (bad input, bad config) exit 2 with one clear line."""
    from hmspark.cutoff import CutoffError
    from hmspark.ingest import IngestError
    from hmspark.session import SessionError
    from hmspark.tables import TableNotFound

    setup_logging()
    try:
        code = main()
    except (ConfigError, CutoffError, IngestError, SessionError, TableNotFound) as exc:
        log.error("%s", exc)
        code = 2
    sys.exit(code)
