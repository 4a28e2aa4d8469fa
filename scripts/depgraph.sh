#!/usr/bin/env bash
# Prints bankgate's package graph: each package and the bankgate packages
# it imports (tests and the test-only helper packages excluded).
# docs/architecture.md shows its output.
set -euo pipefail
cd "$(dirname "$0")/.."
mod=$(go list -m)
for p in $(go list ./... | grep -vE "/(pgtest|sqlitetest|shorttest)$"); do
	deps=$(go list -f '{{join .Imports "\n"}}' "$p" | { grep "^$mod" || true; } | sed "s#^$mod#.#" | sort | paste -sd' ' -)
	printf '%-22s -> %s\n' "${p#$mod}" "${deps:-(none)}" | sed 's#^/##; s#^ *->#. ->#'
done
