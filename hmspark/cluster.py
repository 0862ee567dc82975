"""A Spark standalone cluster on this machine: one master and N workers of the installed pyspark.

For trying the jobs in cluster mode and for ``tests/test_cluster.py``; ``scripts/cluster.sh`` is the
command line.  Every daemon is started with ``spark-class org.apache.spark.deploy.master.Master``
(or ``...worker.Worker``) in its own process group, bound to one host (127.0.0.1 by default), on
free ports unless given.  All state lives in one folder (default ``build/cluster``)::

    cluster.json            master URL, ports, pids (with their start times), worker sizes
    master.pid, worker-1.pid, ...
    master.log, worker-1.log, ...            the daemons' own logs
    worker-1/work/APP/EXECUTOR/stderr        executor logs (the worker's --work-dir)
    worker-1/local/                          shuffle and spill files (SPARK_LOCAL_DIRS)

``stop`` kills each daemon's whole process group and every process below it, by pid as well
(executors, and their Python workers: ``pyspark.daemon`` may move to a process group of its own);
it is safe to call twice.  A pid is
only signalled when its start time matches the one recorded, so a recycled pid is never hit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import psutil

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
STATE_FILE = "cluster.json"


class ClusterError(RuntimeError):
    """The cluster could not be started or queried; the message names the log to read."""


@dataclass
class Daemon:
    name: str               # "master", "worker-1", ...
    pid: int
    started: float          # psutil create_time of pid, to recognise it later
    webui_port: int
    log: str
    cores: int = 0          # workers only
    memory: str = ""


@dataclass
class Cluster:
    folder: str
    host: str
    master_port: int
    master: Daemon
    workers: list[Daemon] = field(default_factory=list)

    @property
    def master_url(self) -> str:
        return f"spark://{self.host}:{self.master_port}"

    @property
    def webui_url(self) -> str:
        return f"http://{self.host}:{self.master.webui_port}"

    def daemons(self) -> list[Daemon]:
        return [*self.workers, self.master]

    def save(self) -> None:
        folder = Path(self.folder)
        (folder / STATE_FILE).write_text(json.dumps(asdict(self), indent=2))
        for d in self.daemons():
            (folder / f"{d.name}.pid").write_text(f"{d.pid}\n")

    @classmethod
    def load(cls, folder: str | Path) -> "Cluster | None":
        path = Path(folder) / STATE_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls(folder=data["folder"], host=data["host"], master_port=data["master_port"],
                   master=Daemon(**data["master"]), workers=[Daemon(**w) for w in data["workers"]])


def spark_class() -> str:
    import pyspark

    return str(Path(pyspark.__file__).parent / "bin" / "spark-class")


def free_port(host: str = "127.0.0.1") -> int:
    """A port that is free on ``host`` right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def process_of(daemon: Daemon) -> psutil.Process | None:
    """The live process of a recorded daemon, or None (gone, or its pid now belongs to another)."""
    try:
        proc = psutil.Process(daemon.pid)
        if abs(proc.create_time() - daemon.started) > 1.0 or proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except psutil.Error:
        return None


def get_json(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read().decode())


def master_state(cluster: Cluster) -> dict:
    """The master's JSON (``/json/``): status, workers with their state, active applications."""
    return get_json(f"{cluster.webui_url}/json/")


def worker_state(cluster: Cluster, index: int) -> dict:
    """A worker's JSON (``/json/``): its executors (id, appid, state) among others; index from 1."""
    return get_json(f"http://{cluster.host}:{cluster.workers[index - 1].webui_port}/json/")


def _tail(path: str | Path, lines: int = 30) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _service_ports(log: str | Path, offset: int) -> dict[str, int]:
    """Ports the daemon bound, from its log after ``offset`` ("Successfully started service
    'sparkMaster' on port 7077."): Spark moves to the next port when one was taken meanwhile."""
    try:
        with open(log, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return {}
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"Successfully started service '([^']+)' on port (\d+)", text)}


def _launch(name: str, args: list[str], folder: Path, env: dict[str, str]
            ) -> tuple[Daemon, subprocess.Popen, int]:
    log = folder / f"{name}.log"
    offset = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as out:
        # A session of its own: the daemon, and the executors it forks, share one process group
        # that stop() signals as a whole.  spark-class execs java, so the pid is the JVM's.
        popen = subprocess.Popen([spark_class(), *args], stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=env, cwd=folder,
                                 start_new_session=True)
    started = psutil.Process(popen.pid).create_time()
    return Daemon(name=name, pid=popen.pid, started=started, webui_port=0, log=str(log)), popen, offset


def _wait(what: str, check, procs: list[tuple[Daemon, subprocess.Popen]], timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        for daemon, popen in procs:
            if popen.poll() is not None:
                raise ClusterError(f"{daemon.name} exited with code {popen.returncode} while "
                                   f"waiting for {what}; see {daemon.log}:\n{_tail(daemon.log)}")
        try:
            state = check()
            if state is not None:
                return state
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last_error = str(exc)
        time.sleep(0.5)
    logs = "\n".join(f"--- {d.log}\n{_tail(d.log)}" for d, _ in procs)
    raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what} ({last_error})\n{logs}")


def daemon_env(host: str, python: str | None = None) -> dict[str, str]:
    """Environment of the daemons (and so of the executors they launch)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SPARK_MASTER_", "SPARK_WORKER_", "PYSPARK_GATEWAY"))}
    env.update(SPARK_LOCAL_IP=host, SPARK_DAEMON_MEMORY=env.get("SPARK_DAEMON_MEMORY", "512m"),
               PYSPARK_PYTHON=python or env.get("PYSPARK_PYTHON", sys.executable))
    env.pop("SPARK_HOME", None)     # spark-class finds the installed pyspark's own
    # Client-mode submissions only: no REST submission server (it would take the fixed port 6066).
    env["SPARK_MASTER_OPTS"] = "-Dspark.master.rest.enabled=false"
    return env


def start(folder: str | Path = "build/cluster", workers: int = 2, cores: int = 1,
          memory: str = "2g", host: str = "127.0.0.1", master_port: int = 0,
          webui_port: int = 0, timeout: float = 180.0) -> Cluster:
    """Start a master and ``workers`` workers of ``cores`` cores and ``memory`` each, and wait
    until the master lists every worker as ALIVE.  Ports 0: free ones.  On failure whatever was
    started is stopped again and ClusterError says why."""
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    running = Cluster.load(folder)
    if running is not None and any(process_of(d) for d in running.daemons()):
        raise ClusterError(f"a cluster is already running from {folder} ({running.master_url}); "
                           f"stop it first")
    env = daemon_env(host)
    master_port = master_port or free_port(host)
    webui_port = webui_port or free_port(host)
    master, popen, offset = _launch("master", [MASTER_CLASS, "--host", host, "--port",
                                               str(master_port), "--webui-port", str(webui_port)],
                                    folder, env)
    master.webui_port = webui_port
    cluster = Cluster(str(folder), host, master_port, master)
    cluster.save()
    procs = [(master, popen)]

    def master_up():
        ports = _service_ports(master.log, offset)
        if "sparkMaster" not in ports or "MasterUI" not in ports:
            return None
        cluster.master_port, master.webui_port = ports["sparkMaster"], ports["MasterUI"]
        return master_state(cluster)

    offsets: list[int] = []
    try:
        _wait("the master", master_up, procs, timeout)
        cluster.save()
        for i in range(1, workers + 1):
            name = f"worker-{i}"
            work, local = folder / name / "work", folder / name / "local"
            work.mkdir(parents=True, exist_ok=True)
            local.mkdir(parents=True, exist_ok=True)
            port = free_port(host)
            worker, wpopen, offset = _launch(
                name, [WORKER_CLASS, cluster.master_url, "--host", host, "--webui-port", str(port),
                       "--cores", str(cores), "--memory", memory, "--work-dir", str(work)],
                folder, {**env, "SPARK_LOCAL_DIRS": str(local)})
            worker.webui_port, worker.cores, worker.memory = port, cores, memory
            cluster.workers.append(worker)
            procs.append((worker, wpopen))
            offsets.append(offset)
            cluster.save()
        for worker, offset in zip(cluster.workers, offsets):
            worker.webui_port = _wait(f"the {worker.name} web UI", lambda w=worker, o=offset:
                                      _service_ports(w.log, o).get("WorkerUI"), procs, timeout)
        cluster.save()

        def all_alive():
            state = master_state(cluster)
            alive = [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]
            return state if len(alive) >= workers else None

        _wait(f"{workers} ALIVE workers", all_alive, procs, timeout)
    except BaseException:
        stop(folder)
        raise
    return cluster


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    """A process and every process below it (only itself when its children cannot be read)."""
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def _kill_tree(daemon: Daemon, sig: int) -> list[int]:
    """Signal a daemon's process group and every process below it; returns the pids signalled."""
    proc = process_of(daemon)
    if proc is None:
        return []
    tree = _tree(proc)
    signalled = []
    try:
        os.killpg(os.getpgid(proc.pid), sig)    # the daemon's session: it and its executors
    except (ProcessLookupError, PermissionError):
        pass
    for p in tree:   # pyspark.daemon may have left the group: every descendant by pid too
        try:
            p.send_signal(sig)
            signalled.append(p.pid)
        except psutil.Error:
            pass
    return signalled


def kill_daemon(daemon: Daemon, timeout: float = 15.0) -> list[int]:
    """SIGKILL a daemon, its process group and everything below it; wait until they are gone."""
    proc = process_of(daemon)
    if proc is None:
        return []
    tree = _tree(proc)
    pids = _kill_tree(daemon, signal.SIGKILL)
    psutil.wait_procs(tree, timeout=timeout)
    return pids


def stop(folder: str | Path = "build/cluster", grace: float = 10.0) -> list[str]:
    """Stop the cluster recorded in ``folder``: SIGTERM to every process group (workers first),
    SIGKILL to what is left after ``grace`` seconds.  Returns the names of the daemons that were
    running; nothing is running afterwards, and a second call is a no-op."""
    folder = Path(folder).resolve()
    cluster = Cluster.load(folder)
    if cluster is None:
        return []
    stopped = []
    tree: list[psutil.Process] = []
    for d in cluster.daemons():
        proc = process_of(d)
        if proc is None:
            continue
        stopped.append(d.name)
        try:
            tree += [proc, *proc.children(recursive=True)]
        except psutil.Error:
            tree.append(proc)
        _kill_tree(d, signal.SIGTERM)
    _, alive = psutil.wait_procs(tree, timeout=grace)
    for p in alive:
        try:
            os.killpg(os.getpgid(p.pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError, psutil.Error):
            pass
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=grace)
    for d in cluster.daemons():
        (folder / f"{d.name}.pid").unlink(missing_ok=True)
    return stopped


def leftovers(cluster: Cluster) -> list[psutil.Process]:
    """Processes of this cluster still alive: its daemons, and any process working in its folder
    (executors run in the workers' work dirs) or naming its master URL."""
    found = {}
    for d in cluster.daemons():
        proc = process_of(d)
        if proc is not None:
            found[proc.pid] = proc
    folder = cluster.folder
    for proc in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            cmd = " ".join(proc.info["cmdline"] or [])
            cwd = proc.info["cwd"] or ""
        except psutil.Error:
            continue
        if proc.pid == os.getpid():
            continue
        if cwd.startswith(folder + os.sep) or (
                "org.apache.spark" in cmd and (folder in cmd or cluster.master_url in cmd)):
            found[proc.pid] = proc
    return [p for p in found.values() if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def status(folder: str | Path = "build/cluster") -> dict:
    """What is recorded and what is alive: {"running": bool, "master_url", "daemons": {...},
    "master": the master's JSON summary when it answers}."""
    folder = Path(folder).resolve()
    cluster = Cluster.load(folder)
    if cluster is None:
        return {"running": False, "folder": str(folder), "daemons": {}}
    daemons = {d.name: {"pid": d.pid, "alive": process_of(d) is not None,
                        "webui": f"http://{cluster.host}:{d.webui_port}", "log": d.log}
               for d in cluster.daemons()}
    out = {"running": any(v["alive"] for v in daemons.values()), "folder": str(folder),
           "master_url": cluster.master_url, "webui": cluster.webui_url, "daemons": daemons}
    if daemons["master"]["alive"]:
        try:
            state = master_state(cluster)
            out["master"] = {"status": state.get("status"),
                             "workers": [(w.get("host"), w.get("port"), w.get("state"),
                                          w.get("cores"), w.get("memory"))
                                         for w in state.get("workers", [])],
                             "activeapps": [a.get("id") for a in state.get("activeapps", [])]}
        except (OSError, urllib.error.URLError, ValueError) as exc:
            out["master"] = {"error": str(exc)}
    return out


@contextmanager
def standalone_cluster(folder: str | Path = "build/cluster", workers: int = 2, cores: int = 1,
                       memory: str = "2g", **kwargs) -> Iterator[Cluster]:
    """``start`` on entry, ``stop`` on exit, also when the body raises."""
    cluster = start(folder, workers=workers, cores=cores, memory=memory, **kwargs)
    try:
        yield cluster
    finally:
        stop(folder)


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m hmspark.cluster",
        description="A Spark standalone cluster on this machine (master + workers of the "
                    "installed pyspark). Defaults come from HMSPARK_CLUSTER_* variables.")
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--dir", default=env("HMSPARK_CLUSTER_DIR", "build/cluster"),
                        help="folder for logs, pid files and worker dirs (HMSPARK_CLUSTER_DIR)")
    parser.add_argument("--workers", type=int, default=int(env("HMSPARK_CLUSTER_WORKERS", "2")))
    parser.add_argument("--cores", type=int, default=int(env("HMSPARK_CLUSTER_WORKER_CORES", "1")),
                        help="cores per worker (HMSPARK_CLUSTER_WORKER_CORES)")
    parser.add_argument("--memory", default=env("HMSPARK_CLUSTER_WORKER_MEMORY", "2g"),
                        help="memory per worker (HMSPARK_CLUSTER_WORKER_MEMORY)")
    parser.add_argument("--host", default=env("HMSPARK_CLUSTER_HOST", "127.0.0.1"))
    parser.add_argument("--master-port", type=int,
                        default=int(env("HMSPARK_CLUSTER_MASTER_PORT", "0")),
                        help="0: a free port (HMSPARK_CLUSTER_MASTER_PORT)")
    parser.add_argument("--webui-port", type=int,
                        default=int(env("HMSPARK_CLUSTER_WEBUI_PORT", "0")),
                        help="master web UI port, 0: a free port (HMSPARK_CLUSTER_WEBUI_PORT)")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            c = start(args.dir, workers=args.workers, cores=args.cores, memory=args.memory,
                      host=args.host, master_port=args.master_port, webui_port=args.webui_port)
            print(f"master   {c.master_url}   web UI {c.webui_url}   log {c.master.log}")
            for w in c.workers:
                print(f"{w.name} {w.cores} core(s) {w.memory}   web UI "
                      f"http://{c.host}:{w.webui_port}   log {w.log}")
            print(f"submit:  scripts/spark-submit.sh --master {c.master_url} jobs/JOB.py ...")
            return 0
        if args.command == "stop":
            stopped = stop(args.dir)
            print(f"stopped {', '.join(stopped)}" if stopped else "not running")
            return 0
        info = status(args.dir)
        print(json.dumps(info, indent=2))
        return 0 if info["running"] else 3
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
