#!/usr/bin/env bash
# Regenerates mitmproxy.har (and mitmproxy.toml) beside this script: requests to the bundled reference
# target on loopback, captured by mitmdump as a reverse proxy and saved with its HAR export (hardump).
#
# mitmproxy pins an older h11 than the suite's httpcore accepts, so it lives in a venv of its own
# (MITM_VENV, created when missing). The suite itself must be installed in the calling Python.
# The secrets are fake ones, exported here; the HAR holds them in its Authorization headers, and
# tests/test_judge.py checks that judge's reports do not.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=${MITM_VENV:-${TMPDIR:-/tmp}/mitmproxy-venv}
if [ ! -x "$venv/bin/mitmdump" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q mitmproxy
fi
export ENROLMENT_API_SECRET=fake-har-secret-0f3c9a7e
export ENROLMENT_OTHER_API_SECRET=fake-har-other-secret-5d21b8
api_port=${API_PORT:-18431}
proxy_port=${PROXY_PORT:-18432}
work=$(mktemp -d)
trap 'kill $serve_pid 2>/dev/null || true; rm -rf "$work"' EXIT

python3 -m conformance serve --port "$api_port" --write-config "$here/mitmproxy.toml" >"$work/serve.log" &
serve_pid=$!
"$venv/bin/mitmdump" -q --mode "reverse:http://127.0.0.1:$api_port" --listen-host 127.0.0.1 \
    --listen-port "$proxy_port" --set hardump="$work/mitmproxy.har" &
mitm_pid=$!
for _ in $(seq 50); do
    if python3 -c "import socket,sys; [socket.create_connection(('127.0.0.1', p), 1).close() for p in (int(sys.argv[1]), int(sys.argv[2]))]" "$api_port" "$proxy_port" 2>/dev/null; then
        break
    fi
    sleep 0.2
done
python3 "$here/send_sample_requests.py" "http://127.0.0.1:$proxy_port/rest/v1" "$here/mitmproxy.toml"
kill -INT "$mitm_pid"
wait "$mitm_pid" || true
python3 -m json.tool "$work/mitmproxy.har" >"$here/mitmproxy.har"
echo "wrote $here/mitmproxy.har and $here/mitmproxy.toml"
