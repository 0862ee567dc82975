#!/usr/bin/env bash
# A Spark standalone cluster on this machine (a master and workers of the installed pyspark, bound
# to 127.0.0.1), for trying the jobs in cluster mode; the logic is hmspark/cluster.py.
#
#   scripts/cluster.sh start     # prints the master URL (spark://127.0.0.1:PORT) and the web UIs
#   scripts/cluster.sh status    # JSON of what runs; exit 0 when running, 3 when not
#   scripts/cluster.sh stop      # kills every daemon's process group; safe to call twice
#
# Settings (environment, or the same flags after the command: --dir, --workers, --cores, ...):
#   HMSPARK_CLUSTER_DIR            logs, pid files, worker work dirs (default: build/cluster)
#   HMSPARK_CLUSTER_WORKERS        number of workers (default: 2)
#   HMSPARK_CLUSTER_WORKER_CORES   cores per worker (default: 1)
#   HMSPARK_CLUSTER_WORKER_MEMORY  memory per worker for executors (default: 2g)
#   HMSPARK_CLUSTER_HOST           address every daemon binds to (default: 127.0.0.1)
#   HMSPARK_CLUSTER_MASTER_PORT    master port (default 0: a free port)
#   HMSPARK_CLUSTER_WEBUI_PORT     master web UI port (default 0: a free port)
#
# Then: scripts/spark-submit.sh --master spark://127.0.0.1:PORT jobs/pipeline.py ...
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
py=${HMSPARK_PYTHON:-$root/.venv/bin/python}
if [[ ! -x "$py" ]]; then
    echo "error: $py not found; run 'make venv' first (or set HMSPARK_PYTHON)" >&2
    exit 2
fi
if [[ $# -lt 1 ]]; then
    echo "usage: $0 start|stop|status [--dir DIR] [--workers N] [--cores C] [--memory M]" >&2
    exit 2
fi
cd "$root"
exec "$py" -m hmspark.cluster "$@"
