#!/usr/bin/env bash
# Instructions per request of the personalisation API, counted by valgrind's callgrind:
# the same count run after run whatever else the machine is doing, so it shows a change of
# a few percent that the timing benches (api_inprocess.py, api_load.py) lose in the noise.
#
#   bench/api_callgrind.sh DATA_DIR [get|post] [N]
#
# Copies DATA_DIR (published by `touchpoint run`; left untouched) to a scratch directory,
# runs bench/api_inprocess.py under callgrind with instrumentation switched on only around
# its N timed requests (TP_GATE), and prints instructions per request. The same customers
# every run (TP_SEED). TP_REPO=DIR measures another checkout (e.g. a `git worktree` of an
# earlier commit) with this checkout's venv; TP_OUT=FILE keeps the callgrind output (for
# `callgrind_annotate --inclusive=yes FILE`). Needs valgrind (Debian's package).
#
# Measured on the development machine, 100k customers / 20k items (2026-11-24):
#   GET  1.467M instructions per request at aefb425, 1.146M after the third round of
#   hot-path work (1a75653), 1.051M with the reasons' anchors worked out by the batch;
#   POST /v1/personalize (three slots) 3.54M -> 2.27M -> 2.23M.
#   Next machine, same data: GET 1.046M at a5f5a72 -> 0.992M with the post-answer writes
#   gathered into one script call per event-loop turn (e27982a); POST 2.196M -> 2.151M.
#   Third machine: GET 990.6k at ec9a893 -> 952.5k with the leaner best-first walk
#   (cbbafac); POST 2.139M -> 2.109M.
#   Fourth machine: GET 952.3k at e06a9ae -> 938.7k with the impression log, cached offer
#   rankings and unawaited post-answer writes (c21b4fd); POST 2.104M -> 1.838M, and
#   1.784M once the customer's own signal is read only when their list names an offer
#   or reward (6a08a09).
#   Sixth machine: GET 938.0k at 318b324 -> 904.5k with the walk answering a pool that
#   diversity left short (32873fc); POST 1.792M -> 1.724M.
set -euo pipefail

DATA=${1:?usage: bench/api_callgrind.sh DATA_DIR [get|post] [N]}
MODE=${2:-get}
N=${3:-2000}
HERE=$(cd "$(dirname "$0")/.." && pwd)
REPO=${TP_REPO:-$HERE}
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT

cp -a "$DATA" "$SCRATCH/data"
rm -f "$SCRATCH/data/.redis/lock"
mkdir "$SCRATCH/gate"
cd "$REPO"
TP_GATE="$SCRATCH/gate" valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$SCRATCH/callgrind.out" \
  "$HERE/.venv/bin/python" bench/api_inprocess.py --data "$SCRATCH/data" --mode "$MODE" -n "$N" \
  >"$SCRATCH/log" 2>&1 &
RUN=$!

wait_for() {
  while [ ! -e "$SCRATCH/gate/$1" ]; do
    if ! kill -0 "$RUN" 2>/dev/null; then cat "$SCRATCH/log" >&2; exit 1; fi
    sleep 0.5
  done
}
wait_for ready
callgrind_control -i on "$RUN" >/dev/null 2>&1
touch "$SCRATCH/gate/go"
wait_for done
callgrind_control -i off "$RUN" >/dev/null 2>&1
touch "$SCRATCH/gate/stop"
wait "$RUN"

TOTAL=$(awk '/^totals:/ {print $2}' "$SCRATCH/callgrind.out")
if [ -n "${TP_OUT:-}" ]; then cp "$SCRATCH/callgrind.out" "$TP_OUT"; fi
echo "$MODE: $N requests, $((TOTAL / N)) instructions per request ($(git rev-parse --short HEAD))"
