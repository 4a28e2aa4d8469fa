#!/usr/bin/env bash
# Dapi Node SDK compatibility suite: installs the pinned @dapi-co/dapi-node
# from package-lock.json, builds bankgate from this repository and runs the
# official SDK against it. Needs Go and Node.js >= 20.
#   BANKGATE_URL=http://127.0.0.1:8080 BANKGATE_DATA_DIR=./bankgate-data ./run.sh
# runs against a server you started yourself; BANKGATE_BIN=path skips the build.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
npm test
