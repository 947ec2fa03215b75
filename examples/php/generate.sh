#!/usr/bin/env bash
# Writes the PHP client classes for the node at ADMIN_URL (default http://127.0.0.1:8181) into ./generated,
# like socket-push's `php generateApi.php -h 127.0.0.1 -p 8181`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dotnet run --project "$here/../../node/SocketPush.Node" -- generate-php \
  --url "${ADMIN_URL:-http://127.0.0.1:8181}" --out "$here/generated" ${SOCKETPUSH_API_KEY:+--api-key "$SOCKETPUSH_API_KEY"}
