#!/bin/sh
# The browser tests (browser_tests/) drive the system's Chromium through Playwright; Playwright's
# own browser download cannot work offline. Install Debian's `chromium` with apt-get when it is
# missing and we are root; otherwise say so once (the browser tests then skip with one line).
if [ -n "$CHROMIUM" ] && [ -x "$CHROMIUM" ]; then exit 0; fi
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: installing Debian's chromium for the browser tests"
    apt-get install -y --no-install-recommends chromium \
        || { apt-get update && apt-get install -y --no-install-recommends chromium; } \
        || echo "ensure_chromium: apt-get could not install chromium; browser tests will skip"
else
    echo "ensure_chromium: no chromium and no way to install it (needs root and apt-get);" \
         "browser tests will skip"
fi
