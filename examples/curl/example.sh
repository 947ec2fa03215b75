#!/usr/bin/env bash
# The management API with curl, in both HTTP forms, and a client on the plain SSE stream.
# Usage: bash example.sh     (ADMIN, CLIENT: the node's URLs, default http://127.0.0.1:8181 and :8080;
#                            SOCKETPUSH_API_KEY when the node has an admin.apiKey)
set -euo pipefail
ADMIN=${ADMIN:-http://127.0.0.1:8181}
CLIENT=${CLIENT:-http://127.0.0.1:8080}
key=()
if [[ -n ${SOCKETPUSH_API_KEY:-} ]]; then
  key=(-H "Authorization: Bearer $SOCKETPUSH_API_KEY")
fi

call() { # curl that prints the answer, and fails on an error answer
  curl -sS --fail-with-body "${key[@]}" "$@"
  echo
}

echo "auth.set, JSON form:"
call -X POST "$ADMIN/api/auth/set" -H 'Content-Type: application/json' -d '{"userId": "1", "sessionId": "test"}'

echo "channel.subscribe, socket-push form:"
call "$ADMIN/channel/subscribe/1/news"

# A client: user 1 on the SSE stream. The node registers the stream before it sends the response
# headers, so once the status line is here every publish reaches it. curl -v prints the status line
# (on stderr) as soon as it arrives; the body's lines follow on stdout.
exec 3< <(exec curl -sS -N -v "$CLIENT/sse?userId=1&sessionId=test" 2>&1)
sse=$!
trap 'kill "$sse" 2>/dev/null || true' EXIT
status=
while IFS= read -r -t 10 line <&3; do
  line=${line%$'\r'}
  if [[ $line == "< HTTP/"* ]]; then
    status=${line#< }
    break
  fi
done
echo "SSE: ${status:-no answer from $CLIENT/sse}"
[[ $status == "HTTP/1.1 200"* ]] || { echo "the SSE stream was refused or did not answer" >&2; exit 1; }

echo "user.publish, JSON form:"
call -X POST "$ADMIN/api/user/publish" -H 'Content-Type: application/json' \
  -d '{"userId": "1", "message": {"text": "hello user 1"}}'

echo "channel.publish, socket-push form (the message is URL-encoded JSON):"
call "$ADMIN/channel/publish/news/%7B%22text%22%3A%22hello%20news%22%7D"

received=0
while ((received < 2)) && IFS= read -r -t 10 line <&3; do
  line=${line%$'\r'}
  if [[ $line == data:* ]]; then
    echo "SSE received: ${line#data: }"
    received=$((received + 1))
  fi
done
((received == 2)) || { echo "the SSE client received $received of 2 messages" >&2; exit 1; }
