#!/usr/bin/env bash
# make run-cluster: the docker-compose topology without Docker. A real nats-server (built from
# the Go module, not downloaded) with JetStream on a file store, then session, gateway, two
# reporters and the poller, and the WeChat account's session-wx, two reporter-wx and poller-wx
# (WX_ENABLED=false: not them), each its own process, each line of output prefixed with its
# name. Ctrl-C stops them all. Settings are the README's environment variables; the WeChat
# services take the all-in-one's WX_* ones (WX_POST_API, WX_POLL_API, WX_DRIVER, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${CLUSTER_DATA:-data/cluster}
NATS_PORT=${CLUSTER_NATS_PORT:-4222}
mkdir -p "$DATA/nats"

pids=()
stop() {
	trap - EXIT INT TERM
	echo "[cluster] stopping"
	# services first, NATS last, so that they drain into it
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; sleep 0.2; done
	wait 2>/dev/null || true
}
trap stop EXIT INT TERM

# start NAME HEALTH_PORT COMMAND...: runs a process with its output prefixed.
start() {
	local name=$1 port=$2
	shift 2
	HEALTH_ADDR=${port:+127.0.0.1:$port} "$@" > >(sed -u "s/^/[$name] /") 2>&1 &
	pids+=($!)
}

# deploy/nats.conf, with this run's port and store
sed -e "s|^port: .*|port: $NATS_PORT|" -e "s|store_dir: .*|store_dir: \"$PWD/$DATA/nats\"|" \
	-e '/^jetstream/i host: 127.0.0.1' deploy/nats.conf > "$DATA/nats.conf"
start nats "" ./bin/nats-server --config "$DATA/nats.conf"
export NATS_URL=nats://127.0.0.1:$NATS_PORT
for _ in $(seq 50); do curl -sf http://127.0.0.1:8222/healthz >/dev/null && break; sleep 0.1; done

start session 8181 ./bin/openqq-session
start gateway 8182 ./bin/openqq-gateway
start reporter-1 8183 ./bin/openqq-reporter
start reporter-2 8184 ./bin/openqq-reporter
start poller 8185 ./bin/openqq-poller
ports="8181 8182 8183 8184 8185"

if [ "${WX_ENABLED:-true}" != false ]; then
	# The WeChat account: docker-compose.yml's session-wx, reporter-wx and poller-wx. Each
	# variable that would otherwise be QQ's is given its WX_ value.
	wx=(env PLATFORM=wx SUBJECT_PREFIX="${WX_SUBJECT_PREFIX:-wx}")
	start session-wx 8186 "${wx[@]}" ACCOUNT="${WX_ACCOUNT:-default}" DRIVER="${WX_DRIVER:-sim}" ./bin/openqq-session
	wxrep=("${wx[@]}" POST_API="${WX_POST_API:-}" POST_STDOUT="${WX_POST_STDOUT:-false}" POST_SECRET="${WX_POST_SECRET:-}")
	start reporter-wx-1 8187 "${wxrep[@]}" ./bin/openqq-reporter
	start reporter-wx-2 8188 "${wxrep[@]}" ./bin/openqq-reporter
	start poller-wx 8189 "${wx[@]}" POLL_API="${WX_POLL_API:-}" ./bin/openqq-poller
	ports="$ports 8186 8187 8188 8189"
fi

for port in $ports; do
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
done
echo "[cluster] ready: curl localhost:5000/openqq/get_user_info, curl localhost:5000/openwx/get_friend_info  (NATS $NATS_URL, health on :8181-8189/readyz)"
wait -n "${pids[@]}" || true
echo "[cluster] a process ended"
