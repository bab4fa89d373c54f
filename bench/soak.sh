#!/usr/bin/env bash
# The soak of tests/clients/test_soak.py for longer: bench/soak.sh [SECONDS] (default 300).
# Many clients mix metadata, subset and whole-variable requests, some hang up mid-body, one
# file is replaced on disk again and again; every body is checked, fds and RSS must end flat.
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK_SECONDS="${1:-300}" FATHOM_BIN="${FATHOM_BIN:-$PWD/target/release/fathom}" \
  "${PYTHON:-.venv/bin/python}" -m pytest -q -s -p no:cacheprovider tests/clients/test_soak.py
