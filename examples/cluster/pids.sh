# shellcheck shell=bash
# What start.sh and stop.sh share: which recorded processes still run. Sourced, not run.

# True while process $1 exists and is not a zombie (an exited child nobody reaped yet).
alive() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $stat != Z* ]]
}

# Prints the pid in file $1 if that process still runs a SocketPush node (a reused pid is someone else's).
running_pid() {
  local file=$1 pid
  [[ -f $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  ps -o args= -p "$pid" 2>/dev/null | grep -q 'SocketPush\.Node' || return 1
  echo "$pid"
}
