"""The one place a SparkSession is built: master from settings or the command line, Delta enabled.

Delta's JVM side comes either from Maven Central, by the coordinates of the installed ``pyspark``
and ``delta-spark`` versions (``spark.jars.packages``), or from a local folder of jars when
``spark.jars_dir`` is set (offline clusters; fill the folder once with
``python -m hmspark.session fetch-jars DIR``).  ``scripts/spark-submit.sh`` asks this module for
the same flags (``python -m hmspark.session submit-args``), so both paths use one definition.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from hmspark.config import ConfigError, Settings, load_settings

SCALA_BINARY = "2.13"

# The Delta jar release that a delta-spark Python release drives, where the two differ.  The
# delta-spark 4.4.1 wheel on PyPI differs from 4.4.0 only in its version.py, and no 4.4.1 jar was
# published to Maven Central (io.delta:delta-spark_4.2_2.13 stops at 4.4.0), so 4.4.1 uses 4.4.0.
JAR_VERSION_OF = {"4.4.1": "4.4.0"}

# Transitive dependencies of the Delta package that pyspark already ships (at newer versions).
# Resolving them again would put older copies (jackson 2.13, hadoop 3.4, parquet 1.16) next to
# Spark's own on the classpath.
EXCLUDED_PACKAGES = (
    "org.apache.hadoop:hadoop-client-api",
    "org.apache.hadoop:hadoop-client-runtime",
    "org.apache.parquet:parquet-column",
    "org.apache.parquet:parquet-common",
    "org.apache.parquet:parquet-encoding",
    "org.apache.parquet:parquet-format-structures",
    "org.apache.parquet:parquet-hadoop",
    "org.apache.parquet:parquet-jackson",
    "org.apache.logging.log4j:log4j-api",
    "org.apache.logging.log4j:log4j-core",
    "org.apache.logging.log4j:log4j-slf4j2-impl",
    "com.fasterxml.jackson.core:jackson-annotations",
    "com.fasterxml.jackson.core:jackson-core",
    "com.fasterxml.jackson.core:jackson-databind",
    "org.slf4j:slf4j-api",
    "org.xerial.snappy:snappy-java",
    "com.github.luben:zstd-jni",
    "org.roaringbitmap:RoaringBitmap",
    "org.roaringbitmap:shims",
    "io.airlift:aircompressor",
    "commons-logging:commons-logging",
    "commons-pool:commons-pool",
    "com.google.code.findbugs:jsr305",
    "org.locationtech.jts:jts-core",
)

# Settings every session gets unless the conf file says otherwise.
BASE_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    "spark.sql.session.timeZone": "UTC",
    # Spark 4 default, stated so that nobody depends on it silently: bad casts raise, and
    # ingest parses untrusted text with try_* functions instead.
    "spark.sql.ansi.enabled": "true",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.databricks.delta.snapshotPartitions": "8",
}


class SessionError(RuntimeError):
    """The session cannot be built as configured (missing jars, unknown versions)."""


def installed_version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        raise SessionError(f"python package '{package}' is not installed") from None


def delta_coordinates() -> str:
    """Maven coordinates of the Delta jar that matches the installed pyspark and delta-spark."""
    spark_minor = ".".join(installed_version("pyspark").split(".")[:2])
    delta = installed_version("delta-spark")
    return f"io.delta:delta-spark_{spark_minor}_{SCALA_BINARY}:{JAR_VERSION_OF.get(delta, delta)}"


def local_jars(jars_dir: str | Path) -> list[str]:
    """The jars of an offline jar folder; an error naming the folder when it has none."""
    folder = Path(jars_dir)
    jars = sorted(str(p.resolve()) for p in folder.glob("*.jar")) if folder.is_dir() else []
    if not jars:
        raise SessionError(
            f"spark.jars_dir = '{jars_dir}' holds no .jar files; fill it with "
            f"'python -m hmspark.session fetch-jars {jars_dir}' on a machine that reaches Maven Central"
        )
    if not any(Path(j).name.startswith("io.delta_delta-spark") or "delta-spark" in Path(j).name
               for j in jars):
        raise SessionError(f"spark.jars_dir = '{jars_dir}' holds no delta-spark jar")
    return jars


def jar_conf(settings: Settings) -> dict[str, str]:
    """Spark settings that put Delta on the classpath: a local jar folder, or Maven coordinates."""
    if settings.spark.jars_dir:
        return {"spark.jars": ",".join(local_jars(settings.spark.jars_dir))}
    return {
        "spark.jars.packages": delta_coordinates(),
        "spark.jars.excludes": ",".join(EXCLUDED_PACKAGES),
    }


LOG4J_CONF = Path(__file__).with_name("log4j2.properties")


def session_conf(settings: Settings, master: str | None = None) -> dict[str, str]:
    """All Spark settings of a session: the base, the jars, then the conf file's own."""
    conf = dict(BASE_CONF)
    if LOG4J_CONF.is_file():
        conf["spark.driver.extraJavaOptions"] = f"-Dlog4j2.configurationFile=file:{LOG4J_CONF}"
    conf.update(jar_conf(settings))
    conf.update(settings.spark.conf)
    conf["spark.master"] = master or settings.spark.master
    conf["spark.app.name"] = settings.spark.app_name
    return conf


def launched_by_spark_submit() -> bool:
    """True when this Python process was started by spark-submit (which already chose the master,
    the jars and the memory from its own flags)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def build_session(settings: Settings, master: str | None = None):
    """Build (or return the running) SparkSession with Delta, for ``master`` or the configured one.

    Under ``spark-submit`` the JVM already exists: its master and jars win unless ``master`` is
    given here; the SQL settings are applied either way.
    """
    from pyspark.sql import SparkSession

    conf = session_conf(settings, master)
    if launched_by_spark_submit():
        for key in ("spark.jars", "spark.jars.packages", "spark.jars.excludes"):
            conf.pop(key, None)
        if master is None:
            conf.pop("spark.master")
    if conf.get("spark.master", "").startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python workers run the interpreter of this process (with pandas, pyarrow, lightgbm) unless
    # the conf names another one (spark.pyspark.python, e.g. on a cluster).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(settings.spark.log_level)
    for key, value in conf.items():
        if key.startswith("spark.sql.") and not key.startswith("spark.sql.extensions") \
                and not key.startswith("spark.sql.catalog"):
            spark.conf.set(key, value)
    return spark


def submit_args(settings: Settings, master: str | None = None) -> list[str]:
    """spark-submit flags for a conf file: master, name, Delta jars and every Spark setting
    (used by scripts/spark-submit.sh, so memory settings reach the JVM before it starts)."""
    conf = session_conf(settings, master)
    args = ["--master", conf.pop("spark.master"), "--name", conf.pop("spark.app.name")]
    if "spark.jars" in conf:
        args += ["--jars", conf.pop("spark.jars")]
    else:
        args += ["--packages", conf.pop("spark.jars.packages"),
                 "--exclude-packages", conf.pop("spark.jars.excludes")]
    for key, value in conf.items():
        args += ["--conf", f"{key}={value}"]
    return args


def fetch_jars(dest: str | Path) -> list[Path]:
    """Resolve the Delta package with Ivy once and copy its jars into ``dest`` (for offline use)."""
    from pyspark.sql import SparkSession

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hmspark-ivy-") as ivy:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        spark = (SparkSession.builder.master("local[1]")
                 .config("spark.jars.packages", delta_coordinates())
                 .config("spark.jars.excludes", ",".join(EXCLUDED_PACKAGES))
                 .config("spark.jars.ivy", ivy)
                 .config("spark.ui.enabled", "false")
                 .getOrCreate())
        spark.stop()
        copied = []
        for jar in sorted(Path(ivy, "jars").glob("*.jar")):
            shutil.copy2(jar, dest / jar.name)
            copied.append(dest / jar.name)
    if not copied:
        raise SessionError(f"Ivy resolved no jars for {delta_coordinates()}")
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hmspark.session",
                                     description="Delta jar helpers for hmspark")
    sub = parser.add_subparsers(dest="command", required=True)
    args_cmd = sub.add_parser("submit-args", help="print the spark-submit flags for the Delta jars")
    args_cmd.add_argument("--conf", default=None, help="TOML conf file")
    args_cmd.add_argument("--master", default=None, help="Spark master overriding the conf file")
    args_cmd.add_argument("--set", dest="overrides", action="append", default=[],
                          metavar="SECTION.KEY=VALUE", help="override one setting (repeatable)")
    fetch = sub.add_parser("fetch-jars", help="download Delta and its dependencies into a folder")
    fetch.add_argument("dest")
    sub.add_parser("coordinates", help="print the Delta Maven coordinates")
    args = parser.parse_args(argv)
    try:
        if args.command == "submit-args":
            print("\n".join(submit_args(load_settings(args.conf, args.overrides), args.master)))
        elif args.command == "coordinates":
            print(delta_coordinates())
        else:
            jars = fetch_jars(args.dest)
            print(f"{len(jars)} jars in {args.dest}")
    except (ConfigError, SessionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
