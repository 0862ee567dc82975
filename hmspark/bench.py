"""Benchmark: the pipeline backtest on simulated data of several presets, per step: rows, wall
seconds and peak memory of the processes (sampled from the OS with psutil), plus MAP@12.

    python -m hmspark.bench [--presets tiny,small,medium,full] [--data DIR] [--work DIR]
                            [--conf FILE] [--master URL] [--set section.key=value ...]
                            [--next-week PRESETS] [--skip-insights PRESETS] [--reuse]

For each preset the simulated files are generated once into ``DATA/PRESET`` (reused when present:
generating full scale takes minutes), then ``scripts/spark-submit.sh jobs/pipeline.py --as-of
last-week`` runs on them as a child process.  Its log lines ``NAME: started`` / ``NAME: done
rows=... seconds=...`` (``hmspark.cli.step``) mark the steps; a sampler thread reads the resident
memory of the child's process tree every ``--interval`` seconds, split into the JVM (in local mode
the driver and its executors) and the Python processes (the driver's and the workers of
``mapInArrow``).  A step's peak is the highest sample while it ran.

Writes ``WORK/bench.csv`` (per step), ``WORK/bench_summary.csv`` (per preset) and ``WORK/bench.md`` and prints the table, the totals (first-time CSV
ingest, the weekly part = candidates to score, apart from evaluation and insights, peak memory, MAP@12) and how each step grows
from one preset to the next (rows ratio next to time ratio).

``--next-week``: the backtest of a preset is followed by the forecast of the week after on the
same warehouse (no ingest: the data already holds that week): its training weeks are the
backtest's three newer training weeks and its prediction cutoff, reused (``hmspark.provenance``),
so the row "PRESET next week" is the weekly part of a run that follows an earlier one, the
backtest's row that of a first run.  (After a real new export the newest training week has new
buyers and may be rebuilt: ``tests/test_pipeline.py``.)
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
SUBMIT = ROOT / "scripts" / "spark-submit.sh"
GIB = 1024 ** 3

STEP_LINE = re.compile(r"^\d\d:\d\d:\d\d \S+ INFO (?P<name>.+?): (?P<what>started|done)(?P<rest>.*)$")
ROWS = re.compile(r"\brows=(?P<rows>[\d,]+)")
# Top-level steps of the pipeline job; a dated name ("features 2020-09-15") is grouped by its
# first word in the growth table.
WEEKLY_KINDS = ("fingerprints", "reuse", "article", "candidates", "features", "train", "score")
TOP_STEPS = re.compile(r"^(ingest|fingerprints|reuse check|article history|candidates \S+"
                       r"|features \S+|train|score|evaluate|insights)$")
NEXT_WEEK = " next week"


@dataclass
class Sample:
    t: float
    jvm: int
    python: int


@dataclass
class Step:
    name: str
    start: float
    end: float | None = None
    rows: int | None = None
    seconds: float | None = None

    @property
    def kind(self) -> str:
        return self.name.split(" ")[0]


@dataclass
class Run:
    preset: str
    returncode: int
    wall: float
    steps: list[Step] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    transactions: int = 0
    log: Path | None = None

    def peak(self, start: float = 0.0, end: float = float("inf")) -> tuple[int, int, int]:
        """Peak JVM, Python and total resident bytes among the samples in [start, end]."""
        inside = [s for s in self.samples if start <= s.t <= end] or self.samples
        if not inside:
            return 0, 0, 0
        return (max(s.jvm for s in inside), max(s.python for s in inside),
                max(s.jvm + s.python for s in inside))


def tree_memory(root: psutil.Process) -> tuple[int, int]:
    """Resident bytes of a process and its descendants: (JVM processes, Python processes)."""
    jvm = python = 0
    try:
        procs = [root] + root.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0, 0
    for p in procs:
        try:
            name = p.name()
            rss = p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if name.startswith("java"):
            jvm += rss
        elif name.startswith("python"):
            python += rss
    return jvm, python


def ensure_data(preset: str, data_root: Path, seed: int) -> tuple[Path, float | None]:
    """The simulated files of a preset (generated when missing); seconds spent generating."""
    folder = data_root / preset
    if (folder / "transactions_train.csv").is_file():
        return folder, None
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hmspark.synth", "--preset", preset, "--seed", str(seed),
                    "--out", str(folder)], check=True, cwd=ROOT)
    return folder, time.perf_counter() - started


def run_pipeline(preset: str, data: Path, work: Path, conf: str | None, master: str | None,
                 overrides: list[str], interval: float, insights: bool = True,
                 next_week: bool = False) -> Run:
    """One pipeline backtest as a child process, with its steps and memory samples.

    ``next_week``: instead, the forecast after the last date on the backtest's warehouse (no
    ingest, no insights): the following week of a weekly schedule, which reuses the backtest's
    tables for its training weeks (``hmspark.provenance``) and builds only its own cutoff."""
    out = work / preset
    cmd = [str(SUBMIT)]
    if conf:
        cmd += ["--conf-file", conf]
    if master:
        cmd += ["--master", master]
    if next_week:
        cmd += ["jobs/pipeline.py", "--skip-ingest", "--warehouse", str(out / "warehouse"),
                "--output", str(out / "next-week"), "--skip-insights"]
    else:
        cmd += ["jobs/pipeline.py", "--input", str(data), "--warehouse", str(out / "warehouse"),
                "--output", str(out / "output"), "--as-of", "last-week",
                # A first run: the warehouse may hold the tables of an earlier bench run.
                "--rebuild"]
        if not insights:
            cmd.append("--skip-insights")
    for item in overrides:
        cmd += ["--set", item]
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / ("next-week.log" if next_week else "pipeline.log")
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    run = Run(preset + (NEXT_WEEK if next_week else ""), -1, 0.0, log=log_path)
    stop = threading.Event()

    def sample() -> None:
        root = psutil.Process(proc.pid)
        while not stop.is_set():
            jvm, python = tree_memory(root)
            run.samples.append(Sample(time.perf_counter() - started, jvm, python))
            stop.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    open_steps: dict[str, Step] = {}
    with open(log_path, "w") as log:
        for line in proc.stdout:
            log.write(line)
            log.flush()
            match = STEP_LINE.match(line.rstrip("\n"))
            if not match or not TOP_STEPS.match(match["name"]):
                continue
            now = time.perf_counter() - started
            if match["what"] == "started":
                open_steps[match["name"]] = step = Step(match["name"], now)
                run.steps.append(step)
            elif match["name"] in open_steps:
                step = open_steps.pop(match["name"])
                step.end = now
                rows = ROWS.search(match["rest"])
                step.rows = int(rows["rows"].replace(",", "")) if rows else None
                seconds = re.search(r"\bseconds=([\d.]+)", match["rest"])
                step.seconds = float(seconds[1]) if seconds else now - step.start
    run.returncode = proc.wait()
    run.wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    # A forecast (next week) has no outcome to score: no metrics.json in its output folder.
    metrics = out / ("next-week" if next_week else "output") / "metrics.json"
    if metrics.is_file():
        run.metrics = json.loads(metrics.read_text()).get("metrics", {})
    return run


def count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b"")) - 1


def step_rows(runs: list[Run]) -> list[dict]:
    """One row per (preset, step) with rows, seconds and peak memory in GiB."""
    table = []
    for run in runs:
        for s in run.steps:
            jvm, python, total = run.peak(s.start, s.end if s.end is not None else run.wall)
            table.append(dict(preset=run.preset, step=s.name, rows=s.rows,
                              seconds=round(s.seconds or 0.0, 1),
                              peak_jvm_gib=round(jvm / GIB, 2), peak_python_gib=round(python / GIB, 2),
                              peak_total_gib=round(total / GIB, 2)))
    return table


def summary_rows(runs: list[Run], synth_seconds: dict[str, float | None]) -> list[dict]:
    out = []
    for run in runs:
        ingest = sum(s.seconds or 0 for s in run.steps if s.kind == "ingest")
        # The weekly part: from the ingested tables to the submission.  The backtest's evaluation
        # (baselines, recall report) and the insights are timed, but apart.
        weekly = sum(s.seconds or 0 for s in run.steps if s.kind in WEEKLY_KINDS)
        extra = sum(s.seconds or 0 for s in run.steps if s.kind in ("evaluate", "insights"))
        jvm, python, total = run.peak()
        ranker = run.metrics.get("ranker") or run.metrics.get("heuristic") or {}
        popular = run.metrics.get("popular", {})
        out.append(dict(preset=run.preset, transactions=run.transactions,
                        synth_seconds=(round(synth_seconds[run.preset], 1)
                                       if synth_seconds.get(run.preset) is not None else
                                       "" if run.preset.endswith(NEXT_WEEK) else "cached"),
                        exit_code=run.returncode, wall_seconds=round(run.wall, 1),
                        ingest_seconds=round(ingest, 1), weekly_seconds=round(weekly, 1),
                        evaluate_insights_seconds=round(extra, 1),
                        peak_jvm_gib=round(jvm / GIB, 2), peak_python_gib=round(python / GIB, 2),
                        peak_total_gib=round(total / GIB, 2),
                        map_at_12=round(ranker.get("map_at_k", float("nan")), 5),
                        popular_map_at_12=round(popular.get("map_at_k", float("nan")), 5)))
    return out


def growth_rows(runs: list[Run]) -> list[dict]:
    """Per step kind, from each preset to the next: rows ratio next to time ratio."""
    def by_kind(run: Run) -> dict[str, tuple[int, float]]:
        acc: dict[str, list[float]] = {}
        for s in run.steps:
            rows, secs = acc.setdefault(s.kind, [0, 0.0])
            acc[s.kind] = [rows + (s.rows or 0), secs + (s.seconds or 0.0)]
        return {k: (int(v[0]), v[1]) for k, v in acc.items()}

    out = []
    runs = [r for r in runs if not r.preset.endswith(NEXT_WEEK)]
    for a, b in zip(runs, runs[1:]):
        ka, kb = by_kind(a), by_kind(b)
        for kind in ka:
            if kind not in kb:
                continue
            (ra, sa), (rb, sb) = ka[kind], kb[kind]
            out.append(dict(step=kind, presets=f"{a.preset} -> {b.preset}",
                            rows_ratio=round(rb / ra, 2) if ra else None,
                            time_ratio=round(sb / sa, 2) if sa else None))
    return out


def markdown(rows: list[dict]) -> list[str]:
    if not rows:
        return ["(none)"]
    cols = list(rows[0])
    fmt = [lambda v: f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else
           ("" if v is None else str(v))]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---:" for _ in cols) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(fmt[0](r[c]) for c in cols) + " |")
    return lines


def save_run(run: Run, synth_seconds: float | None, path: Path) -> None:
    """The run's steps, samples and metrics as JSON (read back by :func:`load_run`)."""
    data = asdict(run)
    data["log"] = str(run.log) if run.log else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run": data, "synth_seconds": synth_seconds}))


def load_run(path: Path) -> tuple[Run, float | None]:
    saved = json.loads(path.read_text())
    data = saved["run"]
    run = Run(data["preset"], data["returncode"], data["wall"],
              steps=[Step(**s) for s in data["steps"]],
              samples=[Sample(**s) for s in data["samples"]], metrics=data["metrics"],
              transactions=data["transactions"], log=Path(data["log"]) if data["log"] else None)
    return run, saved["synth_seconds"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hmspark.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--presets", default="tiny,small,medium,full")
    parser.add_argument("--data", default="data/bench", help="where the simulated files are cached")
    parser.add_argument("--work", default="build/bench", help="warehouses, outputs and results")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--conf", default=None, help="conf file for spark-submit.sh")
    parser.add_argument("--master", default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--interval", type=float, default=0.5, help="memory sampling, seconds")
    parser.add_argument("--skip-insights", default="",
                        help="presets (comma-separated) whose run leaves out the insights step")
    parser.add_argument("--next-week", default="",
                        help="presets (comma-separated) whose backtest is followed by the next "
                             "week's forecast on the same warehouse (reusing its tables; a row "
                             "'PRESET next week')")
    parser.add_argument("--reuse", action="store_true",
                        help="take a preset's last successful run from WORK/PRESET/run.json "
                             "instead of running it again (to add presets to an earlier table)")
    args = parser.parse_args(argv)

    data_root, work = Path(args.data), Path(args.work)
    runs: list[Run] = []
    synth_seconds: dict[str, float | None] = {}
    for preset in [p.strip() for p in args.presets.split(",") if p.strip()]:
        jobs = [(preset, False)]
        if preset in args.next_week.split(","):
            jobs.append((preset, True))
        failed = False
        for name, next_week in jobs:
            saved = work / preset / ("run-next-week.json" if next_week else "run.json")
            label = name + (NEXT_WEEK if next_week else "")
            if args.reuse and saved.exists():
                run, synth_seconds[label] = load_run(saved)
                if run.returncode == 0:
                    print(f"[bench] {label}: reusing {saved}", flush=True)
                    runs.append(run)
                    continue
            folder, seconds = ensure_data(preset, data_root.resolve(), args.seed)
            synth_seconds[label] = None if next_week else seconds
            print(f"[bench] {label}: pipeline on {folder}", flush=True)
            run = run_pipeline(preset, folder, work.resolve(), args.conf, args.master,
                               args.overrides, args.interval,
                               insights=preset not in args.skip_insights.split(","),
                               next_week=next_week)
            run.transactions = count_lines(folder / "transactions_train.csv")
            save_run(run, synth_seconds[label], saved)
            runs.append(run)
            print(f"[bench] {label}: exit {run.returncode} in {run.wall:.0f} s (log {run.log})",
                  flush=True)
            if run.returncode != 0:
                failed = True
                break
        if failed:
            break

    steps, summary, growth = step_rows(runs), summary_rows(runs, synth_seconds), growth_rows(runs)
    work.mkdir(parents=True, exist_ok=True)
    for name, rows in (("bench.csv", steps), ("bench_summary.csv", summary)):
        with open(work / name, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["preset"])
            writer.writeheader()
            writer.writerows(rows)
    text = (["## Per step", ""] + markdown(steps) + ["", "## Totals", ""] + markdown(summary)
            + ["", "## Growth from one preset to the next", ""] + markdown(growth))
    (work / "bench.md").write_text("\n".join(text) + "\n")
    print("\n".join(text))
    return 0 if runs and all(r.returncode == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
