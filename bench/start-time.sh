#!/usr/bin/env bash
# Start time of a published node: from process start to its first /readyz 200, N runs, with the CPU time the
# process used until then (wall time depends on how busy the machine is; CPU time much less).
#   bash bench/start-time.sh dist/linux-x64/socketpush [N=5]
# Runs it on the repository's config.yml with free-looking ports of its own; each run is stopped with SIGTERM.
set -euo pipefail
exe=$(realpath "$1")
runs=${2:-5}
config=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../config.yml")
for i in $(seq "$runs"); do
  admin=$((20000 + RANDOM % 20000))
  start=$(date +%s%N)
  "$exe" --config "$config" --admin-port "$admin" --client-port $((admin + 1)) --cluster-port $((admin + 2)) >/dev/null 2>&1 &
  pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$admin/readyz"; do
    kill -0 "$pid" 2>/dev/null || { echo "start-time.sh: the node exited (port $admin taken?)" >&2; exit 1; }
    sleep 0.005
  done
  end=$(date +%s%N)
  read -r -a stat < "/proc/$pid/stat"
  ticks=$(getconf CLK_TCK)
  echo "run $i: $(((end - start) / 1000000)) ms to /readyz 200, $(((stat[13] + stat[14]) * 1000 / ticks)) ms CPU"
  kill -TERM "$pid"
  wait "$pid" || true
done
