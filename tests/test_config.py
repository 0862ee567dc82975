"""Settings: TOML files, overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hmspark.config import ConfigError, load_settings
from hmspark.session import delta_coordinates, session_conf, submit_args

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", ["local.toml", "cluster.toml"])
def test_shipped_conf_files_load(name):
    s = load_settings(ROOT / "conf" / name)
    assert s.spark.master
    assert s.recall.pair_top_k == 5
    assert s.source.endswith(name)


def test_overrides_are_typed_and_win():
    s = load_settings(ROOT / "conf" / "local.toml",
                      ["recall.pair_top_k=9", "train.learning_rate=0.1",
                       "ingest.sales_channels=1,2,3", "spark.conf.spark.sql.shuffle.partitions=3",
                       "train.refit_on_all=false"])
    assert s.recall.pair_top_k == 9
    assert s.train.learning_rate == 0.1
    assert s.ingest.sales_channels == (1, 2, 3)
    assert s.spark.conf["spark.sql.shuffle.partitions"] == "3"
    assert s.train.refit_on_all is False


def test_unknown_key_and_bad_value_name_the_key(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[recall]\npair_topk = 3\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: unknown key 'recall\.pair_topk'"):
        load_settings(bad)
    with pytest.raises(ConfigError, match=r"unknown section \[recal\]"):
        load_settings(None, ["recal.pair_top_k=3"])
    with pytest.raises(ConfigError, match=r"recall\.pair_top_k: cannot use 'many' as int"):
        load_settings(None, ["recall.pair_top_k=many"])
    with pytest.raises(ConfigError, match="conf file not found"):
        load_settings(tmp_path / "missing.toml")


def test_delta_coordinates_follow_installed_versions():
    from importlib import metadata

    from hmspark.session import JAR_VERSION_OF

    spark_minor = ".".join(metadata.version("pyspark").split(".")[:2])
    delta = metadata.version("delta-spark")
    assert delta_coordinates() == (
        f"io.delta:delta-spark_{spark_minor}_2.13:{JAR_VERSION_OF.get(delta, delta)}")


def test_delta_jar_of_the_pinned_release_is_the_published_one():
    # delta-spark 4.4.1 (PyPI) drives the 4.4.0 jar, the newest on Maven Central for Spark 4.2.
    from importlib import metadata

    if metadata.version("delta-spark") == "4.4.1":
        assert delta_coordinates().endswith("delta-spark_4.2_2.13:4.4.0")


def test_session_conf_uses_jar_folder_when_configured(tmp_path):
    (tmp_path / "io.delta_delta-spark_4.2_2.13-4.4.0.jar").write_bytes(b"")
    s = load_settings(None, [f"spark.jars_dir={tmp_path}"])
    conf = session_conf(s)
    assert "spark.jars.packages" not in conf
    assert conf["spark.jars"].endswith("io.delta_delta-spark_4.2_2.13-4.4.0.jar")
    assert submit_args(s)[4:6] == ["--jars", conf["spark.jars"]]
    empty = load_settings(None, [f"spark.jars_dir={tmp_path / 'none'}"])
    with pytest.raises(Exception, match="holds no .jar files"):
        session_conf(empty)


def test_session_is_utc_ansi_and_delta(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.ansi.enabled") == "true"
    assert "DeltaSparkSessionExtension" in spark.conf.get("spark.sql.extensions")


def test_submit_args_take_the_jobs_overrides(capsys):
    # scripts/spark-submit.sh passes a job's --set items here, so JVM settings such as the
    # driver memory follow them.
    from hmspark.session import main

    conf = str(Path(__file__).resolve().parents[1] / "conf" / "local.toml")
    assert main(["submit-args", "--conf", conf, "--set", "spark.conf.spark.driver.memory=3g",
                 "--set", "spark.master=local[1]"]) == 0
    args = capsys.readouterr().out.split("\n")
    assert args[:2] == ["--master", "local[1]"]
    assert "spark.driver.memory=3g" in args and "spark.driver.memory=12g" not in args
    assert main(["submit-args", "--conf", conf, "--set", "nonsense"]) == 2


def test_as_of_argument_is_checked_before_spark_starts():
    import argparse

    from hmspark.cli import as_of_arg

    assert as_of_arg("last-week") == "last-week"
    assert as_of_arg("2020-09-15") == "2020-09-15"
    for bad in ("garbage", "2020-13-01", "15/09/2020"):
        with pytest.raises(argparse.ArgumentTypeError, match="neither a date"):
            as_of_arg(bad)
