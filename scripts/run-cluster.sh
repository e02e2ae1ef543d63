#!/usr/bin/env bash
# make run-cluster: the docker-compose topology without Docker. A 3-node NATS cluster (three
# real nats-server processes, built from the Go module, not downloaded, routed to each other on
# loopback, JetStream on a file store each), then session, gateway, two reporters and the
# poller, and the WeChat account's session-wx, two reporter-wx and poller-wx (WX_ENABLED=false:
# not them), each its own process, each line of output prefixed with its name. Every service is
# given every node's URL, and every stream and bucket is replicated on the three nodes
# (STREAM_REPLICAS, KV_REPLICAS, MEDIA_REPLICAS: 3). Ctrl-C stops them all. Settings are the
# README's environment variables; the WeChat services take the all-in-one's WX_* ones
# (WX_POST_API, WX_POLL_API, WX_DRIVER, ...).
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${CLUSTER_DATA:-data/cluster}
# Node i (1..3) listens for clients on NATS_PORT+i-1, for routes on ROUTE_PORT+i-1 and for
# monitoring on MONITOR_PORT+i-1: 4222-4224, 6222-6224, 8222-8224 by default.
NATS_PORT=${CLUSTER_NATS_PORT:-4222}
ROUTE_PORT=${CLUSTER_ROUTE_PORT:-6222}
MONITOR_PORT=${CLUSTER_MONITOR_PORT:-8222}
NODES=(1 2 3)
# The services' health servers: HEALTH_PORT (session) to HEALTH_PORT+8 (poller-wx).
HEALTH_PORT=${CLUSTER_HEALTH_PORT:-8181}
BIN=${CLUSTER_BIN:-./bin}

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

# Each node: deploy/nats.conf with this run's ports and its own store; its server_name and the
# cluster's routes (to every node, itself included: nats-server ignores that one) given as flags,
# which take precedence over the file's compose host names.
routes=""
urls=""
for i in "${NODES[@]}"; do
	routes+="${routes:+,}nats://127.0.0.1:$((ROUTE_PORT + i - 1))"
	urls+="${urls:+,}nats://127.0.0.1:$((NATS_PORT + i - 1))"
done
mkdir -p "$DATA"
store=$(cd "$DATA" && pwd)
for i in "${NODES[@]}"; do
	mkdir -p "$DATA/nats-$i"
	sed -e "s|^port: .*|port: $((NATS_PORT + i - 1))|" -e "s|^http_port: .*|http_port: $((MONITOR_PORT + i - 1))|" \
		-e "s|store_dir: .*|store_dir: \"$store/nats-$i\"|" -e '/^jetstream/i host: 127.0.0.1' \
		deploy/nats.conf > "$DATA/nats-$i.conf"
	start "nats-$i" "" "$BIN/nats-server" --config "$DATA/nats-$i.conf" --name "nats-$i" \
		--cluster "nats://127.0.0.1:$((ROUTE_PORT + i - 1))" --routes "$routes"
done
export NATS_URL=$urls
export STREAM_REPLICAS=${STREAM_REPLICAS:-3} KV_REPLICAS=${KV_REPLICAS:-3} MEDIA_REPLICAS=${MEDIA_REPLICAS:-3}

# Ready: every node up, and the cluster's JetStream has elected its meta leader (before that no
# stream or bucket can be created).
for i in "${NODES[@]}"; do
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$((MONITOR_PORT + i - 1))/healthz" >/dev/null && break; sleep 0.1; done
done
leader=""
for _ in $(seq 300); do
	leader=$(curl -sf "http://127.0.0.1:$MONITOR_PORT/jsz" | sed -n 's/.*"leader": *"\([^"]*\)".*/\1/p' | head -n1) || true
	[ -n "$leader" ] && break
	sleep 0.1
done
if [ -z "$leader" ]; then
	echo "[cluster] the NATS cluster elected no JetStream meta leader" >&2
	exit 1
fi
echo "[cluster] NATS cluster up: JetStream meta leader $leader"

h=$HEALTH_PORT
start session $h "$BIN/openqq-session"
start gateway $((h + 1)) "$BIN/openqq-gateway"
start reporter-1 $((h + 2)) "$BIN/openqq-reporter"
start reporter-2 $((h + 3)) "$BIN/openqq-reporter"
start poller $((h + 4)) "$BIN/openqq-poller"
ports="$h $((h + 1)) $((h + 2)) $((h + 3)) $((h + 4))"

if [ "${WX_ENABLED:-true}" != false ]; then
	# The WeChat account: docker-compose.yml's session-wx, reporter-wx and poller-wx. Each
	# variable that would otherwise be QQ's is given its WX_ value.
	wx=(env PLATFORM=wx SUBJECT_PREFIX="${WX_SUBJECT_PREFIX:-wx}")
	start session-wx $((h + 5)) "${wx[@]}" ACCOUNT="${WX_ACCOUNT:-default}" DRIVER="${WX_DRIVER:-sim}" "$BIN/openqq-session"
	wxrep=("${wx[@]}" POST_API="${WX_POST_API:-}" POST_STDOUT="${WX_POST_STDOUT:-false}" POST_SECRET="${WX_POST_SECRET:-}")
	start reporter-wx-1 $((h + 6)) "${wxrep[@]}" "$BIN/openqq-reporter"
	start reporter-wx-2 $((h + 7)) "${wxrep[@]}" "$BIN/openqq-reporter"
	start poller-wx $((h + 8)) "${wx[@]}" POLL_API="${WX_POLL_API:-}" "$BIN/openqq-poller"
	ports="$ports $((h + 5)) $((h + 6)) $((h + 7)) $((h + 8))"
fi

for port in $ports; do
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
done
echo "[cluster] ready: curl localhost:5000/openqq/get_user_info, curl localhost:5000/openwx/get_friend_info  (NATS cluster $NATS_URL, monitoring on :$MONITOR_PORT-$((MONITOR_PORT + 2)), health on :$h-$((h + 8))/readyz)"
wait -n "${pids[@]}" || true
echo "[cluster] a process ended"
