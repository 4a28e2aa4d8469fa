#!/usr/bin/env bash
# Builds bankgate's release binaries: static (CGO_ENABLED=0), -trimpath,
# stripped, with the version, commit and build date linked in, one per
# platform, into dist/, with their SHA256SUMS.
#
#   scripts/release.sh                      # version from git describe
#   VERSION=v1.2.0 scripts/release.sh       # or named
#   PLATFORMS="linux/amd64" DIST=/tmp/out scripts/release.sh
#
# The date is the commit's (UTC), not the wall clock's, so building the same
# commit again with the same Go gives the same bytes and checksums. The
# Dockerfile builds with the same flags.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo devel)}
COMMIT=${COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
DATE=${DATE:-$(TZ=UTC git show -s --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ HEAD 2>/dev/null || echo unknown)}
PLATFORMS=${PLATFORMS:-"linux/amd64 linux/arm64"}
DIST=${DIST:-dist}

ldflags="-s -w -X main.version=$VERSION -X main.commit=$COMMIT -X main.date=$DATE"

rm -rf "$DIST"
mkdir -p "$DIST"
names=()
for p in $PLATFORMS; do
	os=${p%/*}
	arch=${p#*/}
	name="bankgate_${VERSION}_${os}_${arch}"
	echo "building $name"
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$DIST/$name" ./cmd/bankgate
	names+=("$name")
done
(cd "$DIST" && sha256sum "${names[@]}" >SHA256SUMS)

echo
echo "version $VERSION, commit $COMMIT, date $DATE, $(go env GOVERSION)"
(cd "$DIST" && ls -l "${names[@]}" SHA256SUMS | awk '{printf "%12d  %s\n", $5, $9}')
echo
cat "$DIST/SHA256SUMS"
