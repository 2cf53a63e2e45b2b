#!/usr/bin/env bash
# Starts the platform: a local Kafka broker (unless KAFKA_BOOTSTRAP_SERVERS is set) and the
# five services on SQLite (unless VBP_<SERVICE>_DATABASE_URL is set). Ctrl-C stops it all.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/vbp run "$@"
