#!/usr/bin/env bash
# Kills nodes examples/cluster/start.sh started with SIGKILL (kill -9), as a crash would: no leave, no handoff,
# the other nodes find out through gossip. Waits until each process is gone. The pid file stays, so stop.sh
# and start.sh (which starts the node again) still know the node.
#   examples/cluster/kill.sh n1         kill -9 n1 (any list of node ids)
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=pids.sh
source "$script_dir/pids.sh"

state_dir=${SOCKETPUSH_STATE_DIR:-${TMPDIR:-/tmp}/socketpush-cluster}
ids=()
while (($# > 0)); do
  case $1 in
    --state-dir) state_dir=${2:?--state-dir needs a value}; shift ;;
    -h | --help)
      echo "Usage: kill.sh [--state-dir DIR] node id...   (env SOCKETPUSH_STATE_DIR)"
      exit 0 ;;
    -*) echo "kill.sh: unknown argument '$1'" >&2; exit 1 ;;
    *) ids+=("$1") ;;
  esac
  shift
done
((${#ids[@]} > 0)) || { echo "kill.sh: name the nodes to kill, e.g. kill.sh n1" >&2; exit 1; }

status=0
for id in "${ids[@]}"; do
  if ! pid=$(running_pid "$state_dir/$id.pid"); then
    echo "kill.sh: $id is not running (no live SocketPush node in $state_dir/$id.pid)" >&2
    status=1
    continue
  fi
  kill -KILL "$pid"
  while alive "$pid"; do
    sleep 0.1
  done
  echo "Killed $id (pid $pid) with SIGKILL."
done
exit "$status"
