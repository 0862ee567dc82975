"""Cluster mode end to end: a real Spark standalone cluster on this machine (a master and two
workers of 1 core each, bound to 127.0.0.1, ``hmspark.cluster``), the pipeline submitted to it with
``scripts/spark-submit.sh --master spark://127.0.0.1:PORT``, and its submission compared with the
local-mode one for the same data, seed and settings.  The second test SIGKILLs worker 1 (and its
executor) while the job runs tasks on it; the job must still finish with the same result.

The warehouse is a local folder: both workers see it because they run on this machine (a real
cluster needs shared storage, see conf/cluster.toml).  Every cluster is stopped in a ``finally``,
also when a test fails, and the fixture then checks that none of its processes is left.

Three pipeline runs of a few minutes each: opt-in with ``-m cluster`` (pyproject.toml deselects the
marker by default; .ci/run runs it as a second step).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hmspark.cluster import free_port, get_json, kill_daemon, leftovers, standalone_cluster, \
    worker_state
from hmspark.synth import write_kaggle_csvs

pytestmark = [pytest.mark.slow, pytest.mark.cluster]

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "spark-submit.sh"
RUN_TIMEOUT = int(os.environ.get("HMSPARK_CLUSTER_TEST_TIMEOUT", "1800"))

# The same job settings for every run: small training, few partitions (conftest's test values);
# no insights (segments, CLTV, report.html), which do not feed the submission.
JOB_ARGS = ["--as-of", "last-week", "--skip-insights",
            "--set", "train.train_weeks=2", "--set", "train.num_boost_round=40",
            "--set", "train.threads=1",
            "--set", "spark.conf.spark.sql.shuffle.partitions=4",
            "--set", "spark.conf.spark.default.parallelism=4",
            "--set", "spark.conf.spark.sql.adaptive.coalescePartitions.initialPartitionNum=4",
            "--set", "spark.conf.spark.databricks.delta.snapshotPartitions=2"]
# spark-submit options of every run; the cluster runs add the executor size.
SUBMIT_OPTS = ["--driver-memory", "2g", "--conf", "spark.ui.showConsoleProgress=false"]
EXECUTOR_OPTS = ["--conf", "spark.executor.memory=1g", "--conf", "spark.executor.cores=1",
                 "--conf", "spark.cores.max=2", "--conf", "spark.driver.host=127.0.0.1"]


def source_digest() -> str:
    """A hash of the code every run executes: a run compared with one made from other code (the
    checkout edited meanwhile) says so instead of looking like a cluster-mode difference."""
    h = hashlib.sha256()
    for path in sorted([*ROOT.glob("hmspark/**/*.py"), ROOT / "jobs" / "pipeline.py", SCRIPT]):
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()[:12]


def start_submit(master: str, data: Path, run: Path, conf: Path, *opts: str) -> subprocess.Popen:
    """Start ``scripts/spark-submit.sh`` in a process group of its own; output in run/driver.log."""
    run.mkdir(parents=True, exist_ok=True)
    (run / "sources").write_text(source_digest())
    cmd = [str(SCRIPT), "--conf-file", str(conf), "--master", master, *SUBMIT_OPTS, *opts,
           "jobs/pipeline.py",
           "--input", str(data), "--warehouse", str(run / "warehouse"), "--output",
           str(run / "out"), *JOB_ARGS]
    env = {**os.environ, "HMSPARK_PYTHON": sys.executable}
    with open(run / "driver.log", "wb") as log:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)


def finish(popen: subprocess.Popen, run: Path, timeout: int = RUN_TIMEOUT) -> str:
    """Wait for a submission (its whole process group is killed on timeout); returns the log."""
    try:
        popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()
    log = (run / "driver.log").read_text(errors="replace")
    assert popen.returncode == 0, f"spark-submit exited {popen.returncode}:\n{log[-4000:]}"
    return log


def comparable(out: Path) -> dict:
    """What must be equal between two runs: metrics.json without the timings, and the model."""
    metrics = json.loads((out / "metrics.json").read_text())
    for s in metrics["steps"]:
        s.pop("seconds", None)
    return {"metrics": metrics, "model": (out / "model" / "model.txt").read_text()}


def assert_same_result(run: Path, reference: Path) -> None:
    ours, ref = run / "out", reference / "out"
    same_code = (run / "sources").read_text() == (reference / "sources").read_text()
    assert (ours / "submission.csv").read_bytes() == (ref / "submission.csv").read_bytes(), \
        (f"{ours / 'submission.csv'} differs from the local-mode {ref / 'submission.csv'}"
         + ("" if same_code else " (the code changed between the two runs)"))
    a, b = comparable(ours), comparable(ref)
    assert a["metrics"] == b["metrics"]
    assert a["model"] == b["model"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny")
    write_kaggle_csvs(folder, "tiny", seed=3)
    return folder


@pytest.fixture(scope="module")
def conf(tmp_path_factory) -> Path:
    """conf/local.toml as it is now, for every run: an edit of the shared file during the
    module's minutes must not make the runs differ."""
    path = tmp_path_factory.mktemp("conf") / "local.toml"
    shutil.copy(ROOT / "conf" / "local.toml", path)
    return path


@pytest.fixture(scope="module")
def local_run(tiny, conf, tmp_path_factory) -> Path:
    """The reference: the same job in local mode (local[2]), run once for both tests."""
    run = tmp_path_factory.mktemp("local")
    start = time.perf_counter()
    finish(start_submit("local[2]", tiny, run, conf), run)
    print(f"local[2] run: {time.perf_counter() - start:.0f} s")
    return run


@pytest.fixture
def cluster(tmp_path):
    """A fresh master + 2 workers (1 core, 2g each); stopped afterwards, failing or not, and
    then nothing of it may remain."""
    folder = tmp_path / "cluster"
    try:
        with standalone_cluster(folder, workers=2, cores=1, memory="2g") as c:
            yield c
    finally:
        from hmspark.cluster import Cluster

        recorded = Cluster.load(folder)
        if recorded is not None:
            left = leftovers(recorded)
            assert not left, f"cluster processes left after stop: {[p.pid for p in left]}"


def test_cluster_script_start_status_stop(tmp_path):
    folder = tmp_path / "cluster"
    script = [str(ROOT / "scripts" / "cluster.sh")]
    env = {**os.environ, "HMSPARK_PYTHON": sys.executable, "HMSPARK_CLUSTER_DIR": str(folder),
           "HMSPARK_CLUSTER_WORKERS": "1"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*script, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=300)

    from hmspark.cluster import Cluster

    try:
        started = run("start")
        assert started.returncode == 0, started.stderr[-3000:]
        assert "spark://127.0.0.1:" in started.stdout
        assert run("start").returncode == 1       # one cluster per folder
        status = run("status")
        assert status.returncode == 0
        info = json.loads(status.stdout)
        assert info["master"]["status"] == "ALIVE"
        assert [w[2] for w in info["master"]["workers"]] == ["ALIVE"]
        assert (folder / "master.pid").is_file() and (folder / "worker-1.log").is_file()
    finally:
        stopped = run("stop")
    assert stopped.returncode == 0 and "stopped worker-1, master" in stopped.stdout
    again = run("stop")
    assert again.returncode == 0 and "not running" in again.stdout
    assert run("status").returncode == 3
    assert not leftovers(Cluster.load(folder))
    assert not (folder / "master.pid").exists()


def test_cluster_submission_equals_local(cluster, tiny, conf, local_run, tmp_path):
    run = tmp_path / "cluster-run"
    start = time.perf_counter()
    log = finish(start_submit(cluster.master_url, tiny, run, conf, *EXECUTOR_OPTS), run)
    print(f"cluster run on {cluster.master_url}: {time.perf_counter() - start:.0f} s")
    assert "mode ranker" in log
    # Both workers ran an executor of the application.
    for i in (1, 2):
        work = Path(cluster.folder) / f"worker-{i}" / "work"
        assert list(work.glob("app-*/*/stderr")), f"no executor ran on worker-{i}"
    assert_same_result(run, local_run)


def executors_on(cluster, index: int) -> set[str]:
    return {str(e["id"]) for e in worker_state(cluster, index).get("executors", [])}


def test_worker_killed_mid_run_still_finishes_with_same_result(cluster, tiny, conf, local_run,
                                                               tmp_path):
    run = tmp_path / "cluster-kill-run"
    ui = free_port()
    start = time.perf_counter()
    popen = start_submit(cluster.master_url, tiny, run, conf, *EXECUTOR_OPTS,
                         "--conf", f"spark.ui.port={ui}")
    killed, seen = None, ""
    try:
        # Wait until the pipeline is past ingest (shuffle files live on both executors) and the
        # executor on worker 1 is running a task, then SIGKILL worker 1's process group.
        deadline = time.monotonic() + RUN_TIMEOUT
        while popen.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            if "candidates " not in (run / "driver.log").read_text(errors="replace"):
                continue
            try:
                apps = get_json(f"http://127.0.0.1:{ui}/api/v1/applications")
                execs = get_json(f"http://127.0.0.1:{ui}/api/v1/applications/"
                                 f"{apps[0]['id']}/executors")
                mine = executors_on(cluster, 1)
            except (OSError, ValueError, IndexError):
                continue
            busy = [e for e in execs if e["id"] in mine and e["activeTasks"] > 0]
            if busy:
                seen = (f"executor {busy[0]['id']} on worker-1: {busy[0]['activeTasks']} active, "
                        f"{busy[0]['completedTasks']} completed tasks")
                killed = kill_daemon(cluster.workers[0])
                break
        assert killed, "the job ended before worker 1 could be killed"
        print(f"killed worker-1 at {time.perf_counter() - start:.0f} s ({seen}): pids {killed}")
        log = finish(popen, run)
    finally:
        if popen.poll() is None:
            os.killpg(popen.pid, signal.SIGKILL)
            popen.wait()
    print(f"cluster run with a killed worker: {time.perf_counter() - start:.0f} s")
    lost = [line for line in log.splitlines()
            if "Lost executor" in line or "ExecutorLostFailure" in line or "FetchFailed" in line]
    print("\n".join(lost[:10]))
    assert lost, "the driver never noticed the lost executor"
    master_log = Path(cluster.master.log).read_text(errors="replace")
    assert "Removing worker" in master_log
    assert_same_result(run, local_run)
