#!/usr/bin/env bash
# Publishes the node as one self-contained executable, socketpush, for each runtime given:
#   bash publish.sh [RID ...]      (default: linux-x64 linux-arm64)
# Each goes to dist/<RID>/ (or $OUT/<RID>/): the executable socketpush and, beside it, wwwroot/ (the demo and
# management pages it serves). Copy the folder anywhere; it needs no .NET installed. Run it as
#   dist/linux-x64/socketpush --config config.yml
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
out=${OUT:-dist}
rids=("$@")
((${#rids[@]} > 0)) || rids=(linux-x64 linux-arm64)
for rid in "${rids[@]}"; do
  # PublishSingleFile also names the program socketpush (SocketPush.Node.csproj); no .pdb nor .xml docs beside it.
  dotnet publish node/SocketPush.Node -c Release -r "$rid" --self-contained \
    -p:PublishSingleFile=true -p:DebugType=none \
    -p:PublishDocumentationFile=false -p:PublishReferencesDocumentationFiles=false -o "$out/$rid"
  echo "publish.sh: $out/$rid/socketpush"
done
