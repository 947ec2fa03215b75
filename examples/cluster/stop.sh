#!/usr/bin/env bash
# Stops the nodes examples/cluster/start.sh started: SIGTERM, then SIGKILL for any still running after the
# timeout. Nothing running is not an error, so it can be run any number of times.
#   examples/cluster/stop.sh            every node of the state directory
#   examples/cluster/stop.sh n4         only n4 (any list of node ids)
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=pids.sh
source "$script_dir/pids.sh"

state_dir=${SOCKETPUSH_STATE_DIR:-${TMPDIR:-/tmp}/socketpush-cluster}
timeout=${SOCKETPUSH_STOP_TIMEOUT:-20}
ids=()
while (($# > 0)); do
  case $1 in
    --state-dir) state_dir=${2:?--state-dir needs a value}; shift ;;
    --timeout) timeout=${2:?--timeout needs a value}; shift ;;
    -h | --help)
      echo "Usage: stop.sh [--state-dir DIR] [--timeout SECONDS] [node id...]   (env SOCKETPUSH_STATE_DIR, SOCKETPUSH_STOP_TIMEOUT)"
      exit 0 ;;
    -*) echo "stop.sh: unknown argument '$1'" >&2; exit 1 ;;
    *) ids+=("$1") ;;
  esac
  shift
done
[[ $timeout =~ ^[0-9]+$ ]] || { echo "stop.sh: --timeout: '$timeout' is not a number of seconds" >&2; exit 1; }

files=()
if ((${#ids[@]} > 0)); then
  for id in "${ids[@]}"; do
    files+=("$state_dir/$id.pid")
  done
else
  for file in "$state_dir"/n*.pid; do
    [[ -e $file ]] && files+=("$file")
  done
fi

declare -A pids=()
for file in "${files[@]}"; do
  id=$(basename "$file" .pid)
  if pid=$(running_pid "$file"); then
    pids[$id]=$pid
  fi
done

# One signal for all of them: nodes that stop together each hear of the others' leave at once and hand nothing to
# a node that is leaving too (one at a time, the first would hand its records to the next, and so on).
if ((${#pids[@]} > 0)); then
  kill -TERM "${pids[@]}" 2>/dev/null || true
fi

if ((${#pids[@]} == 0)); then
  echo "No node of $state_dir is running."
fi

deadline=$((SECONDS + timeout))
for id in "${!pids[@]}"; do
  while alive "${pids[$id]}" && ((SECONDS < deadline)); do
    sleep 0.1
  done
  if alive "${pids[$id]}"; then
    echo "$id (pid ${pids[$id]}) did not stop within $timeout s of SIGTERM; killing it" >&2
    kill -KILL "${pids[$id]}" 2>/dev/null || true
    while alive "${pids[$id]}"; do
      sleep 0.1
    done
  fi
  echo "Stopped $id (pid ${pids[$id]})."
done

for file in "${files[@]}"; do
  rm -f "$file"
done
