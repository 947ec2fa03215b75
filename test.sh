#!/usr/bin/env bash
# The test command of SocketPush: installs what the tests need when it is missing, then runs every test.
#   bash test.sh [extra dotnet test arguments]
# Needs: the .NET SDK of global.json. Installs with apt-get (as root) when missing: Debian's chromium
# (browser tests, driven by Playwright without any browser download), prometheus (its promtool checks
# /metrics), nodejs + npm (the build installs the @microsoft/signalr browser client from npm),
# php-cli + php-curl (the generated PHP client is linted and run) and, as root, iproute2 + iptables (the
# partition test runs its nodes in network namespaces of its own and cuts them apart; without root it is skipped).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

packages=()
[[ -x /usr/bin/chromium ]] || packages+=(chromium)
command -v promtool >/dev/null 2>&1 || packages+=(prometheus)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
command -v php >/dev/null 2>&1 || packages+=(php-cli)
{ command -v php >/dev/null 2>&1 && php -r 'exit(extension_loaded("curl") ? 0 : 1);'; } || packages+=(php-curl)
if [[ $(id -u) -eq 0 ]]; then
  # Looked for in the sbin folders too, which a PATH may leave out.
  command -v ip >/dev/null 2>&1 || [[ -x /usr/sbin/ip || -x /sbin/ip ]] || packages+=(iproute2)
  command -v iptables >/dev/null 2>&1 || [[ -x /usr/sbin/iptables || -x /sbin/iptables ]] || packages+=(iptables)
fi

if ((${#packages[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "test.sh: missing ${packages[*]}; run as root, or install them first: apt-get install -y ${packages[*]}" >&2
    exit 1
  fi
  echo "test.sh: installing ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  # chromium keeps its recommended fonts; the others need nothing beyond their dependencies.
  for package in "${packages[@]}"; do
    if [[ $package == chromium ]]; then
      apt-get install -y chromium
    else
      apt-get install -y --no-install-recommends "$package"
    fi
  done
fi

command -v dotnet >/dev/null 2>&1 || { echo "test.sh: dotnet is not on PATH; install the .NET SDK named in global.json" >&2; exit 1; }

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
dotnet test SocketPush.sln --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

# One closing line for the whole solution, summed over the per-assembly summaries of dotnet test
# (the "Total tests" block of the normal console verbosity, else the one-line "Passed!/Failed!" form).
awk '
  /^Total tests: [0-9]+/ { blocks = 1 }
  /^ +Passed: [0-9]+ *$/ { block_passed += $2 }
  /^ +Failed: [0-9]+ *$/ { block_failed += $2 }
  /^ +Skipped: [0-9]+ *$/ { block_skipped += $2 }
  /(Passed|Failed)! +- +Failed: / {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:") line_failed += $(i + 1)
      if ($i == "Passed:") line_passed += $(i + 1)
      if ($i == "Skipped:") line_skipped += $(i + 1)
    }
  }
  END {
    if (blocks) printf "tests: %d passed, %d failed, %d skipped\n", block_passed, block_failed, block_skipped
    else printf "tests: %d passed, %d failed, %d skipped\n", line_passed, line_failed, line_skipped
  }
' "$log"

# The failures again at the very end, with their messages, so that the tail of a CI log names them.
awk '
  /^ +Failed [A-Za-z_][A-Za-z0-9_.]*/ { show = 14; print "failed:" }
  /^ +Stack Trace:/ { show = 0 }
  show > 0 { print; show-- }
' "$log"
exit "$status"
