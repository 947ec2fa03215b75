#!/usr/bin/env bash
# Load harness: SocketPush against socket.io and Nchan, every scenario, systems taking turns, one run.
#   bench/run.sh            N = 5,000 and 10,000   -> bench/results/latest.{md,json,png}
#   bench/run.sh --quick    N = 1,000, 5 s         -> bench/results/quick.{md,json,png}
#   bench/run.sh --cluster  3 SocketPush nodes against 1 (latency, fan-out) -> bench/results/cluster.{md,json,png}
#   bench/run.sh --replicas write latency per cluster.writeQuorum on 3 nodes, handoff to a 4th -> bench/results/replicas.{md,json}
#   bench/run.sh --stalled 1000 --n 5000   fan-out with and without 1,000 clients that stop reading -> bench/results/stalled.{md,json,png}
#   bench/run.sh --history  fan-out with history off and on (1 and 3 nodes), then kill -9 of a channel's owner with 5,000
#                           recovering clients -> bench/results/history.{md,json} (--quick: history-quick)
#   bench/run.sh --peer-path [--before ae9edda] [--after HEAD]   node-to-node traffic of two builds, each built from its commit
#                                                                 in a temporary git worktree -> bench/results/peer-path.{md,json}
# Any other option goes to the harness (bench/run.sh --help lists them), e.g.
#   bench/run.sh --systems socketpush,nchan --scenarios fanout --n 10000
# Installs what is missing: Node.js + npm and socket.io (npm ci in bench/peers/socketio), Debian's nginx and
# libnginx-mod-nchan (apt-get, as root). Builds the node and the harness in Release.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)

args=("$@")
name=latest
peers=1
node=1
for a in "${args[@]}"; do
  case $a in
    --quick) case $name in cluster | replicas | peer-path | history) name=$name-quick ;; latest) name=quick ;; esac ;;
    --cluster) [[ $name == quick ]] && name=cluster-quick || name=cluster; peers=0 ;;
    --replicas) [[ $name == quick ]] && name=replicas-quick || name=replicas; peers=0 ;;
    --stalled) name=stalled; peers=0 ;;
    --history) [[ $name == quick ]] && name=history-quick || name=history; peers=0 ;;
    # The harness builds both sides itself, each from its own commit: this checkout's node is not run.
    --peer-path) [[ $name == quick ]] && name=peer-path-quick || name=peer-path; peers=0; node=0 ;;
    -h|--help|help)
      dotnet build -c Release -v quiet -nologo bench/SocketPush.LoadTest >/dev/null
      exec dotnet bench/SocketPush.LoadTest/bin/Release/net10.0/SocketPush.LoadTest.dll --help ;;
  esac
done
for a in "${args[@]}"; do
  [[ $a == --name ]] && name=""
  [[ $a == --systems ]] && peers=1
done
[[ -n $name ]] && args+=(--name "$name")

say() { printf '[run.sh] %s\n' "$*" >&2; }

# The cluster, replicas, stalled and history sets run SocketPush only: socket.io and Nchan are not needed for it.
if ((peers)); then
  packages=()
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
  command -v nginx >/dev/null 2>&1 || packages+=(nginx)
  [[ -e /usr/lib/nginx/modules/ngx_nchan_module.so ]] || packages+=(libnginx-mod-nchan)
  if ((${#packages[@]} > 0)); then
    if [[ $(id -u) -ne 0 ]]; then
      say "missing ${packages[*]}: run as root, or: sudo apt-get install -y ${packages[*]}"
      exit 1
    fi
    say "installing ${packages[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${packages[@]}"
  fi
  peer=bench/peers/socketio
  if [[ ! -d $peer/node_modules/socket.io || $peer/package-lock.json -nt $peer/node_modules/.package-lock.json ]]; then
    say "npm ci in $peer"
    (cd "$peer" && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

if ((node)); then
  say "building the node and the harness (Release)"
  dotnet build -c Release -nologo -v quiet node/SocketPush.Node/SocketPush.Node.csproj
else
  say "building the harness (Release)"
fi
dotnet build -c Release -nologo -v quiet bench/SocketPush.LoadTest/SocketPush.LoadTest.csproj

# One descriptor per connection: the servers hold N, each client process N / workers.
hard=$(ulimit -Hn)
ulimit -n "$hard" 2>/dev/null || true
say "open files limit $(ulimit -n); ephemeral ports $(tr '\t' '-' </proc/sys/net/ipv4/ip_local_port_range); load average $(cut -d' ' -f1-3 /proc/loadavg)"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
export SOCKETPUSH_BENCH_COMMAND="bench/run.sh${*:+ $*}"
exec dotnet bench/SocketPush.LoadTest/bin/Release/net10.0/SocketPush.LoadTest.dll run --repo "$repo" "${args[@]}"
