#!/usr/bin/env bash
# Regenerates the Connect page's screenshots in docs/screenshots/connect
# (every state, en and ar, light and dark, at 360 and 1280 px), the contact
# sheet docs/screenshots/connect-contact-sheet.png and axe-core's report
# docs/screenshots/connect/axe.md, by running TestBrowserConnectLocales with
# -update-screenshots against a real server in headless Chromium.
# Needs Chromium (apt-get install chromium), Node.js for axe-core, and for
# Arabic as users see it a font such as Noto Sans Arabic UI (apt-get
# install fonts-noto-ui-core).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! fc-list ':lang=ar' 2>/dev/null | grep -qi 'noto'; then
	echo "warning: no Noto Arabic font; Arabic will be drawn with a fallback (apt-get install fonts-noto-ui-core)" >&2
fi
npm ci --prefix cmd/bankgate/testdata/axe --no-audit --no-fund
rm -rf docs/screenshots/connect
BANKGATE_REQUIRE_BROWSER=1 go test -count=1 -run '^TestBrowserConnectLocales$' ./cmd/bankgate -update-screenshots
ls -l docs/screenshots docs/screenshots/connect | tail -n +1
