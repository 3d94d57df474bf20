#!/usr/bin/env bash
# Layer 4 side by side, in one run: stickylb's kernel plane (--l4-dataplane nftables), HAProxy
# (mode tcp), NGINX stream, and a minimal hand-written ruleset (plain DNAT + masquerade to one
# member, no hashing, no sets) that shows what stickylb's maps and sets cost.
#
#   bench/l4-bench.sh          # or: npm run bench:l4  (needs root: it creates network namespaces)
#   ROUNDS=5 DURATION=10 bench/l4-bench.sh
#   SCENARIOS="tcp-newconn udp" PEERS="kernel minimal nginx" bench/l4-bench.sh
#
# Environment (defaults in brackets):
#   ROUNDS [3]          rounds; every scenario runs once per peer per round, peers taking turns first
#   DURATION [5]        seconds per run
#   WARMUP [1]          seconds of one discarded run per scenario and peer before the first round
#                       (ARP/neighbour entries, conntrack and socket caches, NGINX/HAProxy workers
#                       and the stickylb process all warm alike); 0: none
#   CONNECTIONS [64]    wrk connections; UDP clients
#   LOADGEN_CPU [0]     CPU of wrk, iperf3 -c and the UDP load tool
#   PROXY_CPU [1]       CPU of HAProxy, NGINX and the backends
#   SCENARIOS [all]     any of: tcp-keepalive tcp-newconn tcp-bulk udp
#   PEERS [all]         any of: kernel haproxy nginx minimal
#   RESULTS [bench/results/l4-<UTC date>.md]
#   SKIP_BUILD [0]      1: use dist/ as it is
#
# Everything runs in three network namespaces made here (client, load balancer, backends, joined
# by veth pairs): the root namespace's rules and routes are never touched. The namespaces and every
# process started here are removed on exit, failure included.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-64}
LOADGEN_CPU=${LOADGEN_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
SCENARIOS=${SCENARIOS:-tcp-keepalive tcp-newconn tcp-bulk udp}
PEERS=${PEERS:-kernel haproxy nginx minimal}
RESULTS=${RESULTS:-$ROOT/bench/results/l4-$(date -u +%F).md}
SKIP_BUILD=${SKIP_BUILD:-0}

die() { echo "l4-bench: $*" >&2; exit 2; }
have() { command -v "$1" >/dev/null 2>&1; }
for n in ROUNDS DURATION WARMUP CONNECTIONS LOADGEN_CPU PROXY_CPU; do
  [[ ${!n} =~ ^[0-9]+$ ]] || die "$n must be a whole number, got '${!n}'"
done
[[ $(id -u) == 0 ]] || die "needs root (network namespaces, nf_tables)"
for tool in ip nft wrk haproxy nginx iperf3 taskset; do
  have "$tool" || die "$tool missing (apt-get install iproute2 nftables wrk haproxy nginx-light libnginx-mod-stream iperf3 util-linux)"
done
STREAM_MODULE=""
for d in /usr/lib/nginx/modules /usr/share/nginx/modules; do
  [[ -f $d/ngx_stream_module.so ]] && STREAM_MODULE="load_module $d/ngx_stream_module.so;"
done
if [[ -z $STREAM_MODULE ]] && ! nginx -V 2>&1 | tr ' ' '\n' | grep -qx -- '--with-stream'; then
  die "NGINX has no stream module (apt-get install libnginx-mod-stream)"
fi

ID=$$
NS_C=slbbc-$ID NS_L=slbbl-$ID NS_B=slbbb-$ID
VIP=10.79.0.1 CLIENT=10.79.1.10 B1=10.79.2.10 B2=10.79.2.11 B3=10.79.2.12
HTTP_PORT=80 UDP_PORT=9001 IPERF_PORT=5201
TABLE=slbbench$ID
RUN_DIR=$(mktemp -d /tmp/stickylb-l4.XXXXXX)
PIDS=()

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  sleep 0.5
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
  # stickylb deletes its table on SIGTERM; deleting the namespace removes whatever is left.
  for ns in "$NS_C" "$NS_L" "$NS_B"; do ip netns delete "$ns" 2>/dev/null; done
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
start() { # NAME NS CPU COMMAND...
  local name=$1 ns=$2 cpu=$3; shift 3
  ip netns exec "$ns" taskset -c "$cpu" "$@" >"$RUN_DIR/$name.log" 2>&1 &
  PIDS+=($!)
}

# ------------------------------------------------------------------------------------ namespaces
for ns in "$NS_C" "$NS_L" "$NS_B"; do ip netns add "$ns" || die "ip netns add $ns failed"; done
for ns in "$NS_C" "$NS_L" "$NS_B"; do in_ns "$ns" ip link set lo up; done
in_ns "$NS_L" ip link add vl$ID type veth peer name vc$ID netns "$NS_C"
in_ns "$NS_L" ip link add vm$ID type veth peer name vb$ID netns "$NS_B"
in_ns "$NS_L" ip addr add 10.79.1.1/24 dev vl$ID
in_ns "$NS_L" ip addr add 10.79.2.1/24 dev vm$ID
in_ns "$NS_L" ip addr add $VIP/32 dev lo
in_ns "$NS_L" ip link set vl$ID up
in_ns "$NS_L" ip link set vm$ID up
in_ns "$NS_L" sysctl -qw net.ipv4.ip_forward=1
in_ns "$NS_C" ip addr add $CLIENT/24 dev vc$ID
in_ns "$NS_C" ip link set vc$ID up
in_ns "$NS_C" ip route add default via 10.79.1.1
for b in $B1 $B2 $B3; do in_ns "$NS_B" ip addr add $b/24 dev vb$ID; done
in_ns "$NS_B" ip link set vb$ID up
in_ns "$NS_B" ip route add default via 10.79.2.1
# Every packet a namespace receives is processed on that side's core (receive packet steering),
# as a NIC's queues would place it: the load balancer's forwarding (conntrack, NAT, the maps) and
# the backends on PROXY_CPU like the proxies, the client side on LOADGEN_CPU. Without it a veth
# hands the whole kernel path to the sender's core, so the kernel plane's work would land on the
# load generator's core while the proxies get a core of their own.
steer() { # NS DEV CPU
  local mask
  mask=$(printf '%x' $((1 << $3)))
  in_ns "$1" sh -c "for q in /sys/class/net/$2/queues/rx-*; do echo $mask > \$q/rps_cpus; done" 2>/dev/null ||
    echo "l4-bench: note: could not steer $2's packets to CPU $3 (figures may favour the proxies)" >&2
}
steer "$NS_L" vl$ID "$PROXY_CPU"
steer "$NS_L" vm$ID "$PROXY_CPU"
steer "$NS_B" vb$ID "$PROXY_CPU"
steer "$NS_C" vc$ID "$LOADGEN_CPU"
# New connections at tens of thousands a second: wide port ranges, reuse of TIME_WAIT tuples.
# No TIME_WAIT sockets kept (the sysctl is per namespace): each run of new connections otherwise
# leaves tens of thousands of them, and the next run's SYNs that meet one of their tuples wait for
# a retransmission, so a peer's figure depended on who ran before it.
for ns in "$NS_C" "$NS_L" "$NS_B"; do
  in_ns "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1 \
    net.ipv4.tcp_max_tw_buckets=0
done

# ---------------------------------------------------------------------------------------- backends
mkdir -p "$RUN_DIR/ngx-b" "$RUN_DIR/ngx-l"
cat >"$RUN_DIR/backend.conf" <<EOF
$STREAM_MODULE
worker_processes 2;
worker_rlimit_nofile 65536;
daemon off;
pid $RUN_DIR/ngx-b.pid;
error_log $RUN_DIR/ngx-b.err warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path $RUN_DIR/ngx-b; proxy_temp_path $RUN_DIR/ngx-b;
  fastcgi_temp_path $RUN_DIR/ngx-b; uwsgi_temp_path $RUN_DIR/ngx-b; scgi_temp_path $RUN_DIR/ngx-b;
  keepalive_requests 100000000;
  server {
    listen $B1:$HTTP_PORT backlog=4096; listen $B2:$HTTP_PORT backlog=4096; listen $B3:$HTTP_PORT backlog=4096;
    location / { return 200 "ok\n"; }
  }
}
stream {
  server { listen $B1:$UDP_PORT udp; listen $B2:$UDP_PORT udp; listen $B3:$UDP_PORT udp; return "pong\n"; }
}
EOF
start backend-nginx "$NS_B" "$PROXY_CPU" nginx -c "$RUN_DIR/backend.conf" -p "$RUN_DIR/ngx-b"
start backend-iperf "$NS_B" "$PROXY_CPU" iperf3 -s -B $B1 -p $IPERF_PORT

# ----------------------------------------------------------------------------------------- peers
declare -A PORT=(
  [kernel/tcp]=8083 [kernel/udp]=8084 [kernel/bulk]=8085
  [haproxy/tcp]=8183 [haproxy/bulk]=8185
  [nginx/tcp]=8283 [nginx/udp]=8284 [nginx/bulk]=8285
  [minimal/tcp]=8383 [minimal/udp]=8384 [minimal/bulk]=8385
)
wants_peer() { [[ " $PEERS " == *" $1 "* ]]; }

if wants_peer kernel; then
  [[ $SKIP_BUILD == 1 ]] || npm run build >/dev/null || die "npm run build failed"
  cat >"$RUN_DIR/lb.yaml" <<EOF
apiVersion: stickylb/v1
kind: LoadBalancer
metadata: {name: l4bench}
spec:
  listeners:
    - {name: tcp, protocol: TCP, address: $VIP, port: ${PORT[kernel/tcp]}, defaultPool: http}
    - {name: udp, protocol: UDP, address: $VIP, port: ${PORT[kernel/udp]}, defaultPool: udp}
    - {name: bulk, protocol: TCP, address: $VIP, port: ${PORT[kernel/bulk]}, defaultPool: bulk}
  pools:
    - name: http
      algorithm: SOURCE_IP
      members: [{address: $B1, port: $HTTP_PORT}, {address: $B2, port: $HTTP_PORT}, {address: $B3, port: $HTTP_PORT}]
    - name: udp
      algorithm: SOURCE_IP
      members: [{address: $B1, port: $UDP_PORT}, {address: $B2, port: $UDP_PORT}, {address: $B3, port: $UDP_PORT}]
    - name: bulk
      algorithm: SOURCE_IP
      members: [{address: $B1, port: $IPERF_PORT}]
EOF
  start stickylb "$NS_L" "$PROXY_CPU" node dist/src/main.js run -f "$RUN_DIR/lb.yaml" --admin off \
    --state-dir "$RUN_DIR" --l4-dataplane nftables --nft-table "$TABLE"
fi
if wants_peer haproxy; then
  cat >"$RUN_DIR/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
listen tcp
  bind $VIP:${PORT[haproxy/tcp]}
  balance source
  hash-type consistent
  server b1 $B1:$HTTP_PORT
  server b2 $B2:$HTTP_PORT
  server b3 $B3:$HTTP_PORT
listen bulk
  bind $VIP:${PORT[haproxy/bulk]}
  server b1 $B1:$IPERF_PORT
EOF
  start haproxy "$NS_L" "$PROXY_CPU" haproxy -db -f "$RUN_DIR/haproxy.cfg"
fi
if wants_peer nginx; then
  cat >"$RUN_DIR/proxy.conf" <<EOF
$STREAM_MODULE
worker_processes 1;
worker_rlimit_nofile 65536;
daemon off;
pid $RUN_DIR/ngx-l.pid;
error_log $RUN_DIR/ngx-l.err warn;
events { worker_connections 30000; }
stream {
  upstream tcp { hash \$remote_addr consistent; server $B1:$HTTP_PORT; server $B2:$HTTP_PORT; server $B3:$HTTP_PORT; }
  server { listen $VIP:${PORT[nginx/tcp]} backlog=4096; proxy_pass tcp; }
  upstream bulk { server $B1:$IPERF_PORT; }
  server { listen $VIP:${PORT[nginx/bulk]} backlog=4096; proxy_pass bulk; }
  upstream udp { hash \$remote_addr consistent; server $B1:$UDP_PORT; server $B2:$UDP_PORT; server $B3:$UDP_PORT; }
  server { listen $VIP:${PORT[nginx/udp]} udp; proxy_pass udp; proxy_responses 1; }
}
EOF
  start nginx-proxy "$NS_L" "$PROXY_CPU" nginx -c "$RUN_DIR/proxy.conf" -p "$RUN_DIR/ngx-l"
fi
if wants_peer minimal; then
  # The reference: what the kernel does with the least possible ruleset (one member, no hash, no
  # sets, no counters). Masquerade only what this table translated (marked on the first packet).
  in_ns "$NS_L" nft -f - <<EOF || die "minimal ruleset refused"
table inet slbref$ID {
  chain pre {
    type nat hook prerouting priority dstnat;
    ip daddr $VIP tcp dport ${PORT[minimal/tcp]} meta mark set 0x4c34 dnat ip to $B1:$HTTP_PORT
    ip daddr $VIP tcp dport ${PORT[minimal/bulk]} meta mark set 0x4c34 dnat ip to $B1:$IPERF_PORT
    ip daddr $VIP udp dport ${PORT[minimal/udp]} meta mark set 0x4c34 dnat ip to $B1:$UDP_PORT
  }
  chain post {
    type nat hook postrouting priority srcnat;
    meta mark 0x4c34 masquerade random
  }
}
EOF
fi

# A peer is ready when its TCP port answers (UDP comes up with it).
ready() { # PORT
  local i
  for ((i = 0; i < 100; i++)); do
    in_ns "$NS_C" timeout 1 bash -c "exec 3<>/dev/tcp/$VIP/$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}
for peer in $PEERS; do
  ready "${PORT[$peer/tcp]}" || { cat "$RUN_DIR"/*.log >&2; die "$peer does not answer on $VIP:${PORT[$peer/tcp]}"; }
done

# ------------------------------------------------------------------------------------- measuring
measure() { # SCENARIO PEER [SECONDS] -> prints a rate, or nothing
  local port out seconds=${3:-$DURATION}
  case $1 in
  tcp-keepalive | tcp-newconn)
    port=${PORT[$2/tcp]}
    local hdr=()
    [[ $1 == tcp-newconn ]] && hdr=(-H "Connection: close")
    out=$(timeout -k 2 $((seconds + 15)) ip netns exec "$NS_C" taskset -c "$LOADGEN_CPU" \
      wrk -t1 -c"$CONNECTIONS" -d"${seconds}s" --timeout 2s "${hdr[@]}" "http://$VIP:$port/" 2>&1)
    awk '/^Requests\/sec:/ { print $2 }' <<<"$out"
    ;;
  tcp-bulk)
    port=${PORT[$2/bulk]}
    out=$(timeout -k 2 $((seconds + 20)) ip netns exec "$NS_C" taskset -c "$LOADGEN_CPU" \
      iperf3 -c $VIP -p "$port" -t "$seconds" -J 2>&1)
    node -e 'const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
      const b = j.end?.sum_received?.bits_per_second; if (b) console.log((b / 1e9).toFixed(3));' <<<"$out" 2>/dev/null
    ;;
  udp)
    port=${PORT[$2/udp]:-}
    [[ -n $port ]] || return 0
    out=$(timeout -k 2 $((seconds + 15)) ip netns exec "$NS_C" taskset -c "$LOADGEN_CPU" \
      node dist/bench/lib/udp-load.js --target "$VIP:$port" --clients "$CONNECTIONS" --duration "$seconds" 2>&1)
    awk '/^RESULT / { print $2 }' <<<"$out"
    ;;
  esac
}

declare -A SAMPLES=()
peers=($PEERS)
if ((WARMUP > 0)); then
  for scenario in $SCENARIOS; do
    for peer in "${peers[@]}"; do
      [[ $scenario == udp && $peer == haproxy ]] && continue
      echo "warm-up $scenario $peer: $(measure "$scenario" "$peer" "$WARMUP")"
    done
  done
fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for ((round = 1; round <= ROUNDS; round++)); do
  for scenario in $SCENARIOS; do
    # Rotate who goes first, so that a drift in the machine's load favours no peer.
    for ((k = 0; k < ${#peers[@]}; k++)); do
      peer=${peers[$(((k + round - 1) % ${#peers[@]}))]}
      [[ $scenario == udp && $peer == haproxy ]] && continue
      rate=$(measure "$scenario" "$peer")
      SAMPLES[$scenario/$peer]+="${rate:-NaN} "
      echo "round $round $scenario $peer: ${rate:-failed}"
    done
  done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "NaN" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "—" }'; }
declare -A UNIT=([tcp-keepalive]="req/s" [tcp-newconn]="conn/s" [tcp-bulk]="Gbit/s" [udp]="datagrams/s")
declare -A TARGET=([tcp-keepalive]=1.6 [tcp-newconn]=1.4 [tcp-bulk]=2 [udp]=1.8)
{
  echo "# L4 benchmark $(date -u '+%F %H:%M') UTC"
  echo
  echo "ROUNDS=$ROUNDS DURATION=${DURATION}s WARMUP=${WARMUP}s CONNECTIONS=$CONNECTIONS; $(nproc) CPUs, $(uname -r);" \
    "load average $LOAD_START at start, $LOAD_END at the end. Medians of the rounds (every round in brackets)."
  echo
  echo "| scenario | kernel plane | HAProxy | NGINX stream | minimal ruleset | kernel ÷ HAProxy (NGINX for UDP) | target | minimal ÷ same | kernel ÷ minimal |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for scenario in $SCENARIOS; do
    declare -A M=()
    for peer in kernel haproxy nginx minimal; do M[$peer]=$(median <<<"${SAMPLES[$scenario/$peer]:-}"); done
    base=${M[haproxy]}
    [[ $scenario == udp ]] && base=${M[nginx]}
    k=$(ratio "${M[kernel]}" "$base")
    met=$(awk -v r="$k" -v t="${TARGET[$scenario]}" 'BEGIN { if (r == "—") print "?"; else print (r >= t ? "met" : "not met") }')
    cell() { echo "${M[$1]} (${SAMPLES[$scenario/$1]:-} )" | sed 's/ *)/)/'; }
    echo "| $scenario (${UNIT[$scenario]}) | $(cell kernel) | $( [[ $scenario == udp ]] && echo — || cell haproxy) | $(cell nginx) | $(cell minimal) | **$k** | ≥ ${TARGET[$scenario]} ($met) | $(ratio "${M[minimal]}" "$base") | $(ratio "${M[kernel]}" "${M[minimal]}") |"
  done
} >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
cat "$RESULTS"
