#!/usr/bin/env bash
# Instructions per request of the personalisation API as it ships (plain Python) and with its
# request path compiled by mypyc: a trial, not how Touchpoint is built (bench/HISTORY.md,
# "Measured and not adopted", says why not). Both counted by bench/api_callgrind.sh on the same data.
#
#   bench/mypyc_compare.sh DATA_DIR [get|post]
#
# Checks the current commit out into a scratch `git worktree`, compiles the modules below
# there unchanged (`mypyc`, from the dev install's mypy; ~1 minute), and counts both.
#
# Measured 2026-11-24 on the API benchmark's data (100k customers / 20k items), with the
# request path as at 10abeae: GET 936.9k plain, 736.4k compiled (-21.4%); POST 1.791M
# plain, 1.453M compiled (-18.9%).
set -euo pipefail

DATA=${1:?usage: bench/mypyc_compare.sh DATA_DIR [get|post]}
MODE=${2:-get}
HERE=$(cd "$(dirname "$0")/.." && pwd)
MODULES=(
  api/fastpath.py api/services/recommend.py api/services/catalogue.py api/services/experiment_serving.py
  api/services/impressions.py api/services/reasons.py api/services/session.py
  api/services/slots.py recsys/ranking.py recsys/value_ranking.py store/answers.py
  store/codec.py store/counters.py store/keys.py store/profile.py store/recent.py
  store/resp.py
)
SCRATCH=$(mktemp -d)
cleanup() {
  git -C "$HERE" worktree remove --force "$SCRATCH/tree" >/dev/null 2>&1 || true
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

git -C "$HERE" worktree add --quiet --detach "$SCRATCH/tree" HEAD
# mypyc builds through setuptools, which would read (and, in the dev venv's version, refuse)
# the project's pyproject.toml: compile with it set aside.
(
  cd "$SCRATCH/tree"
  mv pyproject.toml pyproject.toml.aside
  "$HERE/.venv/bin/mypyc" "${MODULES[@]}" >"$SCRATCH/mypyc.log" 2>&1 || {
    cat "$SCRATCH/mypyc.log" >&2
    exit 1
  }
  mv pyproject.toml.aside pyproject.toml
)
echo "plain Python: $("$HERE/bench/api_callgrind.sh" "$DATA" "$MODE")"
echo "mypyc:        $(TP_REPO="$SCRATCH/tree" "$HERE/bench/api_callgrind.sh" "$DATA" "$MODE")"
