#!/usr/bin/env bash
# Quick start: install what is missing, write the sample lake, load it into an embedded Redis,
# serve it over HTTP and gRPC, and print ready-to-paste calls. Ctrl+C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
exec node bin/malt.js demo "$@"
