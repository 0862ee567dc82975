#!/usr/bin/env bash
# Submit any hmspark job with spark-submit: Delta jars, hmspark zipped for --py-files, conf file.
#
#   scripts/spark-submit.sh [--conf-file FILE] [--master URL] [other spark-submit options] \
#       jobs/JOB.py [job arguments...]
#
# The conf file (default: $HMSPARK_CONF or conf/local.toml) gives the master, the Spark settings
# and the Delta jars (Maven coordinates, or spark.jars_dir for offline clusters); the job gets the
# same file through --conf.  Options before the job file go to spark-submit, the rest to the job.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py=${HMSPARK_PYTHON:-$root/.venv/bin/python}
if [[ ! -x "$py" ]]; then
    echo "error: $py not found; run 'make venv' first (or set HMSPARK_PYTHON)" >&2
    exit 2
fi
conf_file=${HMSPARK_CONF:-$root/conf/local.toml}
master=""
submit_opts=()
while [[ $# -gt 0 && "$1" != *.py ]]; do
    case "$1" in
        --conf-file) conf_file=$2; shift 2 ;;
        --conf-file=*) conf_file=${1#*=}; shift ;;
        --master) master=$2; shift 2 ;;
        --master=*) master=${1#*=}; shift ;;
        *) submit_opts+=("$1"); shift ;;
    esac
done
if [[ $# -eq 0 ]]; then
    echo "usage: $0 [--conf-file FILE] [--master URL] [spark-submit options] jobs/JOB.py [args]" >&2
    exit 2
fi
job=$1; shift
[[ -f "$job" ]] || { echo "error: job file not found: $job" >&2; exit 2; }
[[ -f "$conf_file" ]] || { echo "error: conf file not found: $conf_file" >&2; exit 2; }

spark_submit=$("$py" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit"))')
# The job's --set overrides count for the JVM too (driver memory, jars, ...): pass them on.
overrides=()
job_args=("$@")
for ((i = 0; i < ${#job_args[@]}; i++)); do
    case "${job_args[i]}" in
        --set) overrides+=(--set "${job_args[i+1]:-}"); i=$((i + 1)) ;;
        --set=*) overrides+=(--set "${job_args[i]#--set=}") ;;
    esac
done
# A bad conf file or override stops here, before Spark starts (the message names the key).
submit_flags=$(cd "$root" && "$py" -m hmspark.session submit-args --conf "$conf_file" \
    ${master:+--master "$master"} "${overrides[@]}") || exit 2
mapfile -t conf_args <<< "$submit_flags"

# hmspark as a zip for the executors (rebuilt each time so it never lags behind the code).
build=$root/build
mkdir -p "$build"
zip_file=$build/hmspark.zip
(cd "$root" && "$py" - "$zip_file" <<'PYZIP'
import sys, zipfile, pathlib
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as zf:
    for path in sorted(pathlib.Path("hmspark").rglob("*.py")):
        zf.write(path)
PYZIP
)

export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$py}
export PYSPARK_DRIVER_PYTHON=${PYSPARK_DRIVER_PYTHON:-$py}
export SPARK_LOCAL_IP=${SPARK_LOCAL_IP:-127.0.0.1}
exec "$spark_submit" "${conf_args[@]}" --py-files "$zip_file" "${submit_opts[@]}" \
    "$job" --conf "$conf_file" "$@"
