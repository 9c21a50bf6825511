#!/usr/bin/env bash
# Quick start, command 2: install everything the tests need, then run ruff and the whole suite.
# Extra arguments go to pytest (e.g. ./test.sh -k collector).
set -euo pipefail
cd "$(dirname "$0")"

apt_install() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@"
}
# Real headless Chromium for the tracker tests, and Java for PySpark (Debian packages).
command -v chromium >/dev/null && command -v chromedriver >/dev/null || apt_install chromium chromium-driver
command -v java >/dev/null || apt_install openjdk-17-jre-headless

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --disable-pip-version-check -q -r requirements-dev.txt
npm ci --silent --no-audit --no-fund  # terser, for the tracker's size budget

.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
