#!/usr/bin/env bash
# Starts a local SocketPush cluster: nodes n1..nN from the built node, n2..nN seeded with n1.
#   examples/cluster/start.sh            n1, n2, n3 (clients 8081-8083, admin 8191-8193, cluster 7947-7949)
#   examples/cluster/start.sh --add      one more node (n4, then n5...), seeded with n1
#   examples/cluster/start.sh --add --standby   one more node as a standby (node.standby: true)
#   examples/cluster/stop.sh             stops them all
# See examples/cluster/README.md for every flag and environment variable.
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$script_dir/../.." && pwd)

usage() {
  cat <<'EOF'
Usage: start.sh [options]
  --nodes N               how many nodes to start (default 3; env SOCKETPUSH_NODES)
  --add                   start one more node than the state directory holds, seeded with n1
  --standby               with --add: the node is a standby (node.standby: true), kept so when started again
  --seed HOST:PORT        the seed of n2.. or of the added node (default 127.0.0.1:<cluster port of n1>)
  --client-port-base P    client port of n1; node i gets P+i-1 (default 8081; env SOCKETPUSH_CLIENT_PORT_BASE)
  --admin-port-base P     admin port of n1 (default 8191; env SOCKETPUSH_ADMIN_PORT_BASE)
  --cluster-port-base P   UDP cluster port of n1 (default 7947; env SOCKETPUSH_CLUSTER_PORT_BASE)
  --client-ports LIST     comma-separated client ports, the i-th for node i (env SOCKETPUSH_CLIENT_PORTS)
  --admin-ports LIST      the same for admin ports (env SOCKETPUSH_ADMIN_PORTS)
  --cluster-ports LIST    the same for cluster ports (env SOCKETPUSH_CLUSTER_PORTS)
  --state-dir DIR         logs, pids and settings (default ${TMPDIR:-/tmp}/socketpush-cluster; env SOCKETPUSH_STATE_DIR)
  --config FILE           config file every node reads; flags win over it (env SOCKETPUSH_CONFIG)
  --configuration C       Release (default) or Debug build of the node (env SOCKETPUSH_CONFIGURATION)
  --build                 build the node even when it is built already
  --timeout SECONDS       how long a node may take to become ready (default 60; env SOCKETPUSH_START_TIMEOUT)
EOF
}

fail() {
  echo "start.sh: $*" >&2
  exit 1
}

state_dir=${SOCKETPUSH_STATE_DIR:-${TMPDIR:-/tmp}/socketpush-cluster}
nodes=${SOCKETPUSH_NODES:-}
client_base=${SOCKETPUSH_CLIENT_PORT_BASE:-}
admin_base=${SOCKETPUSH_ADMIN_PORT_BASE:-}
cluster_base=${SOCKETPUSH_CLUSTER_PORT_BASE:-}
client_ports=${SOCKETPUSH_CLIENT_PORTS:-}
admin_ports=${SOCKETPUSH_ADMIN_PORTS:-}
cluster_ports=${SOCKETPUSH_CLUSTER_PORTS:-}
config_file=${SOCKETPUSH_CONFIG:-}
configuration=${SOCKETPUSH_CONFIGURATION:-}
timeout=${SOCKETPUSH_START_TIMEOUT:-60}
seed=""
add=false
standby=false
build=false

while (($# > 0)); do
  case $1 in
    --nodes) nodes=${2:?--nodes needs a value}; shift ;;
    --add) add=true ;;
    --standby) standby=true ;;
    --seed) seed=${2:?--seed needs a value}; shift ;;
    --client-port-base) client_base=${2:?--client-port-base needs a value}; shift ;;
    --admin-port-base) admin_base=${2:?--admin-port-base needs a value}; shift ;;
    --cluster-port-base) cluster_base=${2:?--cluster-port-base needs a value}; shift ;;
    --client-ports) client_ports=${2:?--client-ports needs a value}; shift ;;
    --admin-ports) admin_ports=${2:?--admin-ports needs a value}; shift ;;
    --cluster-ports) cluster_ports=${2:?--cluster-ports needs a value}; shift ;;
    --state-dir) state_dir=${2:?--state-dir needs a value}; shift ;;
    --config) config_file=${2:?--config needs a value}; shift ;;
    --configuration) configuration=${2:?--configuration needs a value}; shift ;;
    --build) build=true ;;
    --timeout) timeout=${2:?--timeout needs a value}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; fail "unknown argument '$1'" ;;
  esac
  shift
done

mkdir -p "$state_dir"
state_dir=$(cd "$state_dir" && pwd)
settings=$state_dir/settings

# What the first start chose is kept, so `--add` (and a later start) uses the same ports and build without
# repeating the flags; a flag or variable given again wins.
if [[ -f $settings ]]; then
  # shellcheck source=/dev/null
  source "$settings"
fi
client_base=${client_base:-${saved_client_base:-8081}}
admin_base=${admin_base:-${saved_admin_base:-8191}}
cluster_base=${cluster_base:-${saved_cluster_base:-7947}}
client_ports=${client_ports:-${saved_client_ports:-}}
admin_ports=${admin_ports:-${saved_admin_ports:-}}
cluster_ports=${cluster_ports:-${saved_cluster_ports:-}}
config_file=${config_file:-${saved_config_file:-}}
configuration=${configuration:-${saved_configuration:-Release}}
nodes=${nodes:-3}

[[ $nodes =~ ^[1-9][0-9]*$ ]] || fail "--nodes: '$nodes' is not a positive number"
if $standby; then
  $add || fail "--standby goes with --add: the first nodes of a cluster are active ones"
  # The node reads one config file; a standby's is written here, so it cannot also be the user's.
  [[ -z $config_file ]] || fail "--standby with --config: add 'standby: true' to the node: section of a copy of your config and pass that with --config --add"
fi
[[ $timeout =~ ^[1-9][0-9]*$ ]] || fail "--timeout: '$timeout' is not a positive number of seconds"
[[ $configuration == Release || $configuration == Debug ]] || fail "--configuration: '$configuration' is neither Release nor Debug"
if [[ -n $config_file ]]; then
  [[ -f $config_file ]] || fail "--config: '$config_file' does not exist"
  config_file=$(cd "$(dirname "$config_file")" && pwd)/$(basename "$config_file")
fi
command -v curl >/dev/null 2>&1 || fail "curl is needed to check /readyz; install it (Debian: apt-get install -y curl)"

{
  printf 'saved_client_base=%q\nsaved_admin_base=%q\nsaved_cluster_base=%q\n' "$client_base" "$admin_base" "$cluster_base"
  printf 'saved_client_ports=%q\nsaved_admin_ports=%q\nsaved_cluster_ports=%q\n' "$client_ports" "$admin_ports" "$cluster_ports"
  printf 'saved_config_file=%q\nsaved_configuration=%q\n' "$config_file" "$configuration"
} >"$settings"

# The dotnet that runs the tests (dotnet test sets DOTNET_HOST_PATH), else the one on PATH.
dotnet=${DOTNET_HOST_PATH:-$(command -v dotnet || true)}
[[ -n $dotnet ]] || fail "dotnet is not on PATH; install the .NET SDK named in global.json"
dll=$root/node/SocketPush.Node/bin/$configuration/net10.0/SocketPush.Node.dll
if $build || [[ ! -f $dll ]]; then
  echo "Building the node ($configuration)..."
  "$dotnet" build "$root/node/SocketPush.Node/SocketPush.Node.csproj" -c "$configuration" --nologo -v quiet \
    || fail "the build failed"
fi

# Port of node $2 (1-based) from the list $1, or from the base $3.
port_of() {
  local list=$1 number=$2 base=$3
  if [[ -n $list ]]; then
    local -a ports
    IFS=, read -r -a ports <<<"$list"
    ((number <= ${#ports[@]})) || fail "the port list '$list' has no port for node n$number"
    echo "${ports[number - 1]}"
  else
    echo $((base + number - 1))
  fi
}

# shellcheck source-path=SCRIPTDIR source=pids.sh
source "$script_dir/pids.sh"

# Node numbers with a pid file in the state directory.
recorded_numbers() {
  local file name
  for file in "$state_dir"/n*.pid; do
    [[ -e $file ]] || continue
    name=$(basename "$file" .pid)
    [[ $name =~ ^n[0-9]+$ ]] && echo "${name#n}"
  done | sort -n
}

started=()

start_node() {
  local number=$1 node_seed=$2 id="n$1" client admin cluster pid
  client=$(port_of "$client_ports" "$number" "$client_base")
  admin=$(port_of "$admin_ports" "$number" "$admin_base")
  cluster=$(port_of "$cluster_ports" "$number" "$cluster_base")
  if pid=$(running_pid "$state_dir/$id.pid"); then
    echo "$id is running already (pid $pid)"
    return
  fi

  local -a args=("$dll" --node-id "$id" --client-port "$client" --admin-port "$admin" --cluster-port "$cluster")
  if [[ -f $state_dir/$id.standby ]]; then
    args+=(--config "$state_dir/$id.standby")
  elif [[ -n $config_file ]]; then
    args+=(--config "$config_file")
  fi
  [[ -n $node_seed ]] && args+=(--seeds "$node_seed")
  # Run in the state directory, so a config.yml of the current folder is never read by accident.
  (cd "$state_dir" && exec nohup "$dotnet" "${args[@]}" </dev/null >"$state_dir/$id.log" 2>&1) &
  echo $! >"$state_dir/$id.pid"
  printf '%s %s %s %s\n' "$client" "$admin" "$cluster" "$node_seed" >"$state_dir/$id.ports"
  started+=("$id")
}

# Stops what this run started when it cannot finish.
abort() {
  echo "start.sh: $*" >&2
  if ((${#started[@]} > 0)); then
    "$script_dir/stop.sh" --state-dir "$state_dir" "${started[@]}" >&2 || true
  fi
  exit 1
}
trap 'abort "interrupted"' INT TERM

# Whether node $1 answers /readyz on admin port $2 as ready (a standby: as a standby, which it stays until promoted).
answers_ready() {
  if [[ -f $state_dir/$1.standby ]]; then
    curl -sS --max-time 2 "http://127.0.0.1:$2/readyz" 2>/dev/null | grep -q '"standby"'
  else
    curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$2/readyz" 2>/dev/null
  fi
}

# Waits until node $1 printed READY and its /readyz answers 200 (a standby: 503 standby).
wait_ready() {
  local id=$1 admin deadline
  admin=$(cut -d' ' -f2 "$state_dir/$id.ports")
  deadline=$((SECONDS + timeout))
  until grep -q "^SOCKETPUSH READY node=$id " "$state_dir/$id.log" 2>/dev/null && answers_ready "$id" "$admin"; do
    # Not running_pid: until the forked shell has become dotnet, its command line is not the node's yet.
    if ! alive "$(<"$state_dir/$id.pid")"; then
      echo "--- $state_dir/$id.log" >&2
      tail -n 30 "$state_dir/$id.log" >&2 || true
      abort "$id exited before it was ready"
    fi
    ((SECONDS < deadline)) || abort "$id was not ready within $timeout s; its log: $state_dir/$id.log"
    sleep 0.2
  done
}

first_cluster_port=$(port_of "$cluster_ports" 1 "$cluster_base")
seed=${seed:-127.0.0.1:$first_cluster_port}
if $add; then
  last=$(recorded_numbers | tail -n 1)
  [[ -n $last ]] || fail "--add: no node was started in $state_dir; run start.sh without --add first"
  numbers=($((last + 1)))
  if $standby; then
    printf '# Written by start.sh --standby: this node waits as a standby until a member is dead for cluster.standbyAfter.\nnode:\n  standby: true\n' \
      >"$state_dir/n${numbers[0]}.standby"
  fi
  start_node "${numbers[0]}" "$seed"
else
  mapfile -t numbers < <(seq 1 "$nodes")
  # n1 first: the others need its cluster port to be open. Started again while others of the state directory run
  # (after kill.sh n1, say), it joins them through one of them at once, rather than standing alone until one of
  # them pings it again (gossip retries dead members every 10 s).
  first_seed=""
  if ! running_pid "$state_dir/n1.pid" >/dev/null; then
    for number in $(recorded_numbers); do
      if ((number != 1)) && running_pid "$state_dir/n$number.pid" >/dev/null; then
        first_seed=127.0.0.1:$(cut -d' ' -f3 "$state_dir/n$number.ports")
        break
      fi
    done
  fi
  start_node 1 "$first_seed"
  wait_ready n1
  for number in "${numbers[@]:1}"; do
    start_node "$number" "$seed"
  done
fi

for number in "${numbers[@]}"; do
  wait_ready "n$number"
done
trap - INT TERM

echo "SocketPush cluster ready (state and logs in $state_dir):"
for number in "${numbers[@]}"; do
  read -r client admin cluster _ <"$state_dir/n$number.ports"
  printf '  n%-3s client http://127.0.0.1:%s  admin http://127.0.0.1:%s  cluster 127.0.0.1:%s  pid %s%s\n' \
    "$number" "$client" "$admin" "$cluster" "$(<"$state_dir/n$number.pid")" "$([[ -f $state_dir/n$number.standby ]] && echo '  (standby)')"
done
