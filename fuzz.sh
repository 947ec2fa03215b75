#!/usr/bin/env bash
# Runs every fuzzer (the tests of Category=Fuzz) for longer than CI does, then lists the inputs each one tried.
#   bash fuzz.sh [seconds per fuzzer, default 60] [extra dotnet test arguments]
# A failure names its seed; SOCKETPUSH_FUZZ_SEED=<seed> bash fuzz.sh ... tries that input first again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
seconds=${1:-60}
shift $(($# > 0 ? 1 : 0))
export SOCKETPUSH_FUZZ_SECONDS=$seconds DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
SOCKETPUSH_FUZZ_LOG=$(mktemp)
export SOCKETPUSH_FUZZ_LOG
trap 'rm -f "$SOCKETPUSH_FUZZ_LOG"' EXIT

dotnet build SocketPush.sln -v q
status=0
for project in tests/SocketPush.Node.Tests tests/SocketPush.Gossip.Tests; do
  dotnet test "$project" --no-build --filter Category=Fuzz "$@" || status=$?
done

printf '\n%-60s %10s %8s\n' fuzzer inputs seconds
sort "$SOCKETPUSH_FUZZ_LOG" | awk -F '\t' '{ printf "%-60s %10d %8.1f\n", $1, $2, $3 }'
exit "$status"
