#!/usr/bin/env bash
# The system packages the test suite drives: Debian's chromium and chromium-driver (the
# audit report is opened in a headless browser, tests/test_report.py). Installed with
# apt-get when missing (as root, or through sudo); nothing happens when they are there.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
echo "setup: installing chromium and chromium-driver (Debian packages) for the report test" >&2
run=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "setup: chromium/chromium-driver are missing and this user cannot install them;" \
             "install Debian's chromium and chromium-driver (tests/test_report.py needs them)" >&2
        exit 0  # the report test then fails and says why; the rest of the suite runs
    fi
    run="sudo"
fi
$run apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $run apt-get install -y -qq chromium chromium-driver >&2
