#!/usr/bin/env bash
# Fuzz every request decoder, the token parser, path normalisation and the
# whole HTTP server, each for a set time (default 30s; FUZZTIME=2m ...).
# Seed corpora live in http/testdata/fuzz and run in every `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${FUZZTIME:-30s}"
for target in $(go test -list 'Fuzz.*' ./http | grep '^Fuzz'); do
	echo "--- $target ($t)"
	go test -run XXX -fuzz "^${target}\$" -fuzztime "$t" ./http
done
for pkg in ./sandbox ./connect; do
	for target in $(go test -list 'Fuzz.*' "$pkg" | grep '^Fuzz'); do
		echo "--- $pkg $target ($t)"
		go test -run XXX -fuzz "^${target}\$" -fuzztime "$t" "$pkg"
	done
done
