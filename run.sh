#!/usr/bin/env bash
# Quick start, command 1: install LogDig into .venv and run local mode
# (collector on http://127.0.0.1:8000, drain timer, queue and lake under ./data). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install --disable-pip-version-check -q -r requirements-analysis.txt
exec .venv/bin/python -m app "$@"
