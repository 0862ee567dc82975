"""scripts/spark-submit.sh end to end: a real spark-submit with --master local[2], once with the
Delta package from Maven coordinates and once from an offline jar folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "spark-submit.sh"


def submit(*args: str, conf: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    cmd = [str(SCRIPT), *(["--conf-file", str(conf)] if conf else []), "--master", "local[2]", *args]
    env = {"HMSPARK_PYTHON": sys.executable, "PATH": "/usr/bin:/bin:/usr/local/bin"}
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**__import__("os").environ, **env})


@pytest.mark.slow
def test_missing_input_file_exits_2_naming_the_file(tmp_path):
    (tmp_path / "in").mkdir()
    done = submit("jobs/ingest.py", "--input", str(tmp_path / "in"),
                  "--warehouse", str(tmp_path / "wh"))
    assert done.returncode == 2, done.stderr[-2000:]
    assert "input file missing" in done.stdout + done.stderr
    assert "articles.csv" in done.stdout + done.stderr


@pytest.mark.slow
def test_ingest_with_offline_jar_folder(tmp_path, real_head):
    jars = tmp_path / "jars"
    fetched = subprocess.run([sys.executable, "-m", "hmspark.session", "fetch-jars", str(jars)],
                             cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert fetched.returncode == 0, fetched.stderr[-2000:]
    names = {p.name for p in jars.glob("*.jar")}
    assert any(n.startswith("io.delta_delta-spark_") for n in names)
    assert not any("jackson-databind" in n or "hadoop-client" in n for n in names)
    conf = tmp_path / "offline.toml"
    conf.write_text((ROOT / "conf" / "local.toml").read_text().replace(
        '# jars_dir = ".jars"', f'jars_dir = "{jars}"'))
    done = submit("jobs/ingest.py", "--input", str(real_head), "--warehouse", str(tmp_path / "wh"),
                  conf=conf)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "transactions_train.csv" in done.stdout
    # The offline run resolved nothing from Maven.
    assert "resolving dependencies" not in done.stderr
    lines = [line.split() for line in done.stdout.splitlines()]
    counts = {parts[0]: parts[1:4] for parts in lines if parts and parts[0].endswith(".csv")}
    assert counts["transactions_train.csv"] == ["10,000", "10,000", "0"]


def test_bad_override_stops_before_spark_starts(tmp_path):
    done = submit("jobs/ingest.py", "--input", str(tmp_path), "--warehouse", str(tmp_path / "wh"),
                  "--set", "recall.pair_top_k=many", timeout=120)
    assert done.returncode == 2
    assert "recall.pair_top_k: cannot use 'many' as int" in done.stderr
    assert "SparkContext" not in done.stderr and "resolving dependencies" not in done.stderr
