#!/usr/bin/env bash
# stickylb against its peers (HAProxy, NGINX, node-http-proxy, naive Node relays) in one run.
#
#   bench/run.sh            # or: npm run bench
#   ROUNDS=5 DURATION=10 bench/run.sh
#   SCENARIOS="http-rr udp" PEERS="stickylb nginx" ROUNDS=1 DURATION=2 bench/run.sh
#
# Environment (defaults in brackets):
#   ROUNDS [3]            rounds; every scenario and peer runs once per round, peers interleaved
#   DURATION [5]          seconds per run ("5s" accepted)
#   CONNECTIONS [64]      wrk keep-alive connections; UDP clients
#   WARMUP [2]            seconds of discarded load for each Node-based peer before round 1 (JIT)
#   LOADGEN_CPU [0]       CPU of wrk, iperf3 -c and the UDP load tool
#   PROXY_CPU [1]         CPU of every proxy and of the backends
#   BACKEND_WORKERS [2]   nginx backend worker processes
#   PORT_BASE [18000]     ports used: PORT_BASE+10..13 backends, +80.. stickylb, +180.. HAProxy,
#                         +280.. NGINX, +380 node-http-proxy, +480.. naive Node
#   SCENARIOS [all]       any of: http-rr http-cookie-new http-cookie-returning http-app-cookie
#                         tcp-keepalive tcp-newconn tcp-bulk udp
#   PEERS [all]           any of: stickylb haproxy nginx node-http-proxy naive-node direct
#   RESULTS [bench/results/<UTC date>.md]
#   BENCH_INSTALL [1]     install missing tools (apt-get when root; npm for http-proxy)
#   SKIP_BUILD [0]        1: use dist/ as it is
#   KEEP_RUN_DIR [0]      1: keep the temporary folder with configs and logs
#   BASELINE []           another built checkout of stickylb (a folder with dist/src/main.js, e.g. a
#                         `git worktree` of an older commit after `npm ci && npm run build`): adds
#                         the peer stickylb-baseline to every stickylb scenario, interleaved with
#                         this build in the same rounds, and a "this build ÷ baseline" table
#
# Everything listens on loopback only; every process started here is stopped on exit.
set -uo pipefail
shopt -u patsub_replacement 2>/dev/null || true

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
DURATION=${DURATION%s}
CONNECTIONS=${CONNECTIONS:-64}
WARMUP=${WARMUP:-2}
WARMUP=${WARMUP%s}
LOADGEN_CPU=${LOADGEN_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
BACKEND_WORKERS=${BACKEND_WORKERS:-2}
PORT_BASE=${PORT_BASE:-18000}
ALL_SCENARIOS="http-rr http-cookie-new http-cookie-returning http-app-cookie tcp-keepalive tcp-newconn tcp-bulk udp"
SCENARIOS=${SCENARIOS:-$ALL_SCENARIOS}
BASELINE=${BASELINE:-}
if [[ -n $BASELINE ]]; then
  BASELINE=$(cd "$BASELINE" 2>/dev/null && pwd) || { echo "bench: BASELINE folder not found" >&2; exit 2; }
  [[ -f $BASELINE/dist/src/main.js ]] || { echo "bench: $BASELINE/dist/src/main.js missing (build it first)" >&2; exit 2; }
fi
PEERS=${PEERS:-stickylb ${BASELINE:+stickylb-baseline }haproxy nginx node-http-proxy naive-node direct}
RESULTS=${RESULTS:-$ROOT/bench/results/$(date -u +%F).md}
BENCH_INSTALL=${BENCH_INSTALL:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
KEEP_RUN_DIR=${KEEP_RUN_DIR:-0}

for n in ROUNDS DURATION CONNECTIONS WARMUP LOADGEN_CPU PROXY_CPU BACKEND_WORKERS PORT_BASE; do
  [[ ${!n} =~ ^[0-9]+$ ]] || { echo "bench: $n must be a whole number, got '${!n}'" >&2; exit 2; }
done

# Members: three loopback addresses, so that every proxy balances over three real endpoints.
B1=127.0.1.1 B2=127.0.1.2 B3=127.0.1.3
BACKEND_HTTP=$((PORT_BASE + 10)) BACKEND_APP=$((PORT_BASE + 11))
BACKEND_UDP=$((PORT_BASE + 12)) BACKEND_IPERF=$((PORT_BASE + 13))
SLB_HTTP_RR=$((PORT_BASE + 80)) SLB_HTTP_COOKIE=$((PORT_BASE + 81)) SLB_HTTP_APP=$((PORT_BASE + 82))
SLB_TCP=$((PORT_BASE + 83)) SLB_UDP=$((PORT_BASE + 84)) SLB_BULK=$((PORT_BASE + 85))
# The baseline build listens on the same layout, 40 ports lower.
BASE_HTTP_RR=$((PORT_BASE + 40)) BASE_HTTP_COOKIE=$((PORT_BASE + 41)) BASE_HTTP_APP=$((PORT_BASE + 42))
BASE_TCP=$((PORT_BASE + 43)) BASE_UDP=$((PORT_BASE + 44)) BASE_BULK=$((PORT_BASE + 45))
HAP_HTTP_RR=$((PORT_BASE + 180)) HAP_HTTP_COOKIE=$((PORT_BASE + 181)) HAP_HTTP_APP=$((PORT_BASE + 182))
HAP_TCP=$((PORT_BASE + 183)) HAP_BULK=$((PORT_BASE + 185))
NGX_HTTP_RR=$((PORT_BASE + 280)) NGX_TCP=$((PORT_BASE + 283)) NGX_UDP=$((PORT_BASE + 284))
NGX_BULK=$((PORT_BASE + 285))
NHP_HTTP_RR=$((PORT_BASE + 380))
NAIVE_TCP=$((PORT_BASE + 483)) NAIVE_UDP=$((PORT_BASE + 484)) NAIVE_BULK=$((PORT_BASE + 485))
TEMPLATE_VARS=(B1 B2 B3 BACKEND_HTTP BACKEND_APP BACKEND_UDP BACKEND_IPERF BACKEND_WORKERS RUN_DIR
  SLB_HTTP_RR SLB_HTTP_COOKIE SLB_HTTP_APP SLB_TCP SLB_UDP SLB_BULK
  HAP_HTTP_RR HAP_HTTP_COOKIE HAP_HTTP_APP HAP_TCP HAP_BULK
  NGX_HTTP_RR NGX_TCP NGX_UDP NGX_BULK LOAD_STREAM STREAM_INCLUDE)

RUN_DIR=$(mktemp -d /tmp/stickylb-bench.XXXXXX)
SAMPLES=$RUN_DIR/samples.tsv
SKIPS=$RUN_DIR/skips.txt
FACTS=$RUN_DIR/facts.tsv
: >"$SAMPLES" >"$SKIPS" >"$FACTS"
PIDS=()
IPERF_PID=""
LOAD_STREAM=""
STREAM_INCLUDE=""
HAVE_STREAM=0

log() { printf '[bench] %s\n' "$*" >&2; }
skip() {
  printf '[bench] skip: %s\n' "$*" >&2
  printf '%s\n' "$*" >>"$SKIPS"
}
die() {
  printf '[bench] error: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
wanted() { [[ " $2 " == *" $1 "* ]]; }

cleanup() {
  trap - EXIT INT TERM
  local pid i alive
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for ((i = 0; i < 50; i++)); do
    alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  wait 2>/dev/null
  if [[ $KEEP_RUN_DIR == 1 ]]; then log "run folder kept: $RUN_DIR"; else rm -rf "$RUN_DIR"; fi
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ---------------------------------------------------------------------------------------- tools

nginx_stream_module() {
  local v d
  v=$(nginx -V 2>&1 | tr ' ' '\n')
  if grep -qx -- '--with-stream=dynamic' <<<"$v"; then
    for d in /usr/lib/nginx/modules /usr/share/nginx/modules /usr/lib64/nginx/modules; do
      if [[ -f $d/ngx_stream_module.so ]]; then
        LOAD_STREAM="load_module $d/ngx_stream_module.so;"
        return 0
      fi
    done
    return 1
  fi
  grep -qx -- '--with-stream' <<<"$v"
}

ensure_tools() {
  local pkgs=() pair
  for pair in wrk:wrk haproxy:haproxy nginx:nginx iperf3:iperf3 curl:curl taskset:util-linux; do
    have "${pair%%:*}" || pkgs+=("${pair#*:}")
  done
  if have nginx && ! nginx_stream_module; then pkgs+=(libnginx-mod-stream); fi
  if ((${#pkgs[@]})); then
    if [[ $BENCH_INSTALL == 1 && $(id -u) == 0 ]] && have apt-get; then
      log "installing ${pkgs[*]} (apt-get)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get install -y -qq "${pkgs[@]}" >"$RUN_DIR/apt.log" 2>&1 ||
        { apt-get update -qq >>"$RUN_DIR/apt.log" 2>&1 && apt-get install -y -qq "${pkgs[@]}" >>"$RUN_DIR/apt.log" 2>&1; } ||
        log "apt-get install failed (log in $RUN_DIR/apt.log); going on without"
    else
      log "missing: ${pkgs[*]} (as root with apt-get this script installs them; else install them yourself)"
    fi
  fi
  have nginx && nginx_stream_module && HAVE_STREAM=1
  if ! node -e 'require.resolve("http-proxy")' 2>/dev/null && [[ $BENCH_INSTALL == 1 ]]; then
    log "installing the npm devDependencies (http-proxy)"
    npm install --no-audit --no-fund >"$RUN_DIR/npm.log" 2>&1 || log "npm install failed (log in $RUN_DIR/npm.log)"
  fi
  have taskset || die "taskset (util-linux) is needed to pin the processes"
  have curl || die "curl is needed to check every peer before measuring"
  have wrk || skip "wrk missing: every HTTP and TCP requests/s scenario"
  have haproxy || skip "haproxy missing: HAProxy peer"
  have nginx || skip "nginx missing: NGINX peer and the HTTP/TCP backends (HTTP and TCP scenarios)"
  if have nginx && ((!HAVE_STREAM)); then
    skip "nginx stream module missing: NGINX TCP/UDP peer (UDP backend falls back to a Node echo)"
  fi
  have iperf3 || skip "iperf3 missing: TCP bulk throughput"
  node -e 'require.resolve("http-proxy")' 2>/dev/null || skip "npm http-proxy missing: node-http-proxy peer (npm install -D http-proxy)"
}

build() {
  if [[ $SKIP_BUILD != 1 ]]; then
    log "building (npm run build)"
    npm run build --silent >"$RUN_DIR/build.log" 2>&1 ||
      log "build reported errors (log in $RUN_DIR/build.log); using what tsc emitted"
  fi
  local f
  for f in dist/src/main.js dist/bench/lib/report.js dist/bench/lib/udp-load.js dist/bench/peers/naive-pipe.js; do
    [[ -f $f ]] || die "$f missing: the build failed"
  done
}

# ------------------------------------------------------------------------------ processes

render() { # TEMPLATE OUT
  local text var
  text=$(<"$1")
  for var in "${TEMPLATE_VARS[@]}"; do text=${text//@$var@/${!var}}; done
  printf '%s\n' "$text" >"$2"
}

start() { # NAME CMD...: runs CMD pinned to the proxy core, in the background
  local name=$1
  shift
  taskset -c "$PROXY_CPU" "$@" >"$RUN_DIR/$name.log" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
}

tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

wait_tcp() { # HOST PORT NAME
  local i
  for ((i = 0; i < 100; i++)); do
    tcp_open "$1" "$2" && return 0
    sleep 0.1
  done
  skip "$3 did not listen on $1:$2 (log: $RUN_DIR/$3.log)"
  return 1
}

ports_free() {
  local p
  for p in $BACKEND_HTTP $BACKEND_APP $BACKEND_IPERF $SLB_HTTP_RR $SLB_HTTP_COOKIE $SLB_HTTP_APP $SLB_TCP \
    $SLB_BULK $HAP_HTTP_RR $HAP_HTTP_COOKIE $HAP_HTTP_APP $HAP_TCP $HAP_BULK $NGX_HTTP_RR $NGX_TCP \
    $NGX_BULK $NHP_HTTP_RR $NAIVE_TCP $NAIVE_BULK ${BASELINE:+$BASE_HTTP_RR $BASE_HTTP_COOKIE $BASE_HTTP_APP \
    $BASE_TCP $BASE_BULK}; do
    tcp_open 127.0.0.1 "$p" && die "port $p is in use on 127.0.0.1 (set PORT_BASE)"
    tcp_open "$B1" "$p" && die "port $p is in use on $B1 (set PORT_BASE)"
  done
  return 0
}

start_nginx() { # NAME MAIN_TEMPLATE STREAM_TEMPLATE
  local name=$1
  mkdir -p "$RUN_DIR/$name"
  STREAM_INCLUDE=""
  if ((HAVE_STREAM)); then
    render "$3" "$RUN_DIR/$name-stream.conf"
    STREAM_INCLUDE="include $RUN_DIR/$name-stream.conf;"
  fi
  render "$2" "$RUN_DIR/$name.conf"
  if ! nginx -t -q -p "$RUN_DIR/$name/" -e "$RUN_DIR/$name.err" -c "$RUN_DIR/$name.conf" >"$RUN_DIR/$name.log" 2>&1; then
    log "$name: nginx refused its configuration: $(tr '\n' ' ' <"$RUN_DIR/$name.log")"
    return 1
  fi
  start "$name" nginx -p "$RUN_DIR/$name/" -e "$RUN_DIR/$name.err" -c "$RUN_DIR/$name.conf"
}

start_iperf_server() {
  start iperf3-server iperf3 -s -B "$B1" -p "$BACKEND_IPERF"
  IPERF_PID=$LAST_PID
  wait_tcp "$B1" "$BACKEND_IPERF" iperf3-server
}

restart_iperf_server() {
  [[ -n $IPERF_PID ]] && kill -TERM "$IPERF_PID" 2>/dev/null
  sleep 0.3
  start_iperf_server
}

start_all() {
  local members="$B1:$BACKEND_HTTP,$B2:$BACKEND_HTTP,$B3:$BACKEND_HTTP"
  if have nginx; then
    start_nginx nginx-backend bench/peers/nginx/backend.conf bench/peers/nginx/backend-stream.conf &&
      wait_tcp "$B1" "$BACKEND_HTTP" nginx-backend && STARTED[direct]=1
  fi
  if ((!HAVE_STREAM)); then
    start udp-echo node dist/bench/peers/udp-echo.js --listen "$B1:$BACKEND_UDP" --listen "$B2:$BACKEND_UDP" \
      --listen "$B3:$BACKEND_UDP"
  fi
  have iperf3 && start_iperf_server

  if wanted stickylb "$PEERS"; then
    render bench/peers/stickylb.yaml "$RUN_DIR/stickylb.yaml"
    if node dist/src/main.js validate -f "$RUN_DIR/stickylb.yaml" >"$RUN_DIR/stickylb-validate.log" 2>&1; then
      start stickylb node dist/src/main.js run -f "$RUN_DIR/stickylb.yaml" --admin off --log-level warn \
        --drain-timeout 1s --state-dir "$RUN_DIR/state"
      wait_tcp 127.0.0.1 "$SLB_HTTP_RR" stickylb && STARTED[stickylb]=1
    else
      skip "stickylb refused the configuration: $(tr '\n' ' ' <"$RUN_DIR/stickylb-validate.log")"
    fi
  fi
  if [[ -n $BASELINE ]] && wanted stickylb-baseline "$PEERS"; then
    # The same configuration on the baseline's ports (the template's SLB_* names, shadowed here).
    local SLB_HTTP_RR=$BASE_HTTP_RR SLB_HTTP_COOKIE=$BASE_HTTP_COOKIE SLB_HTTP_APP=$BASE_HTTP_APP
    local SLB_TCP=$BASE_TCP SLB_UDP=$BASE_UDP SLB_BULK=$BASE_BULK
    render bench/peers/stickylb.yaml "$RUN_DIR/stickylb-baseline.yaml"
    start stickylb-baseline node "$BASELINE/dist/src/main.js" run -f "$RUN_DIR/stickylb-baseline.yaml" --admin off \
      --log-level warn --drain-timeout 1s --state-dir "$RUN_DIR/state-baseline"
    wait_tcp 127.0.0.1 "$SLB_HTTP_RR" stickylb-baseline && STARTED[stickylb-baseline]=1
  fi
  if wanted haproxy "$PEERS" && have haproxy; then
    render bench/peers/haproxy.cfg "$RUN_DIR/haproxy.cfg"
    if haproxy -c -q -f "$RUN_DIR/haproxy.cfg" >"$RUN_DIR/haproxy.log" 2>&1; then
      start haproxy haproxy -db -f "$RUN_DIR/haproxy.cfg"
      wait_tcp 127.0.0.1 "$HAP_HTTP_RR" haproxy && STARTED[haproxy]=1
    else
      skip "haproxy refused the configuration: $(tr '\n' ' ' <"$RUN_DIR/haproxy.log")"
    fi
  fi
  if wanted nginx "$PEERS" && have nginx; then
    start_nginx nginx-proxy bench/peers/nginx/proxy.conf bench/peers/nginx/proxy-stream.conf &&
      wait_tcp 127.0.0.1 "$NGX_HTTP_RR" nginx-proxy && STARTED[nginx]=1
  fi
  if wanted node-http-proxy "$PEERS" && node -e 'require.resolve("http-proxy")' 2>/dev/null; then
    start node-http-proxy node dist/bench/peers/node-http-proxy.js --listen "127.0.0.1:$NHP_HTTP_RR" \
      --members "$members"
    wait_tcp 127.0.0.1 "$NHP_HTTP_RR" node-http-proxy && STARTED[node-http-proxy]=1
  fi
  if wanted naive-node "$PEERS"; then
    start naive-pipe node dist/bench/peers/naive-pipe.js --listen "127.0.0.1:$NAIVE_TCP=$members" \
      --listen "127.0.0.1:$NAIVE_BULK=$B1:$BACKEND_IPERF"
    start naive-dgram node dist/bench/peers/naive-dgram.js --listen "127.0.0.1:$NAIVE_UDP" \
      --members "$B1:$BACKEND_UDP,$B2:$BACKEND_UDP,$B3:$BACKEND_UDP"
    wait_tcp 127.0.0.1 "$NAIVE_TCP" naive-pipe && STARTED[naive-node]=1
  fi
  return 0
}

# ----------------------------------------------------------------------------- scenarios

# For each scenario, its peers and their endpoints: `peer=PORT` (HOST 127.0.0.1) or `peer=HOST:PORT`.
declare -A ENDPOINTS=(
  [http-rr]="stickylb=$SLB_HTTP_RR haproxy=$HAP_HTTP_RR nginx=$NGX_HTTP_RR node-http-proxy=$NHP_HTTP_RR direct=$B1:$BACKEND_HTTP"
  [http-cookie-new]="stickylb=$SLB_HTTP_COOKIE haproxy=$HAP_HTTP_COOKIE"
  [http-cookie-returning]="stickylb=$SLB_HTTP_COOKIE haproxy=$HAP_HTTP_COOKIE"
  [http-app-cookie]="stickylb=$SLB_HTTP_APP haproxy=$HAP_HTTP_APP"
  [tcp-keepalive]="stickylb=$SLB_TCP haproxy=$HAP_TCP nginx=$NGX_TCP naive-node=$NAIVE_TCP"
  [tcp-newconn]="stickylb=$SLB_TCP haproxy=$HAP_TCP nginx=$NGX_TCP naive-node=$NAIVE_TCP"
  [tcp-bulk]="stickylb=$SLB_BULK haproxy=$HAP_BULK nginx=$NGX_BULK naive-node=$NAIVE_BULK"
  [udp]="stickylb=$SLB_UDP nginx=$NGX_UDP naive-node=$NAIVE_UDP direct=$B1:$BACKEND_UDP"
)
if [[ -n $BASELINE ]]; then
  ENDPOINTS[http-rr]+=" stickylb-baseline=$BASE_HTTP_RR"
  ENDPOINTS[http-cookie-new]+=" stickylb-baseline=$BASE_HTTP_COOKIE"
  ENDPOINTS[http-cookie-returning]+=" stickylb-baseline=$BASE_HTTP_COOKIE"
  ENDPOINTS[http-app-cookie]+=" stickylb-baseline=$BASE_HTTP_APP"
  ENDPOINTS[tcp-keepalive]+=" stickylb-baseline=$BASE_TCP"
  ENDPOINTS[tcp-newconn]+=" stickylb-baseline=$BASE_TCP"
  ENDPOINTS[tcp-bulk]+=" stickylb-baseline=$BASE_BULK"
  ENDPOINTS[udp]+=" stickylb-baseline=$BASE_UDP"
fi
declare -A STARTED=() # peer -> 1 once it listens
declare -A TARGET=()  # scenario/peer -> HOST:PORT, only for pairs that passed their check
declare -A HEADER=()  # scenario/peer -> extra request header for wrk
ACTIVE=()             # scenario/peer pairs to measure, in order

http_code() { # URL [HEADER]
  local h=()
  [[ -n ${2:-} ]] && h=(-H "$2")
  curl -sS -o /dev/null -m 3 -w '%{http_code}' "${h[@]}" "$1" 2>/dev/null
}

set_cookie() { # URL NAME [HEADER]: the NAME=VALUE of the first Set-Cookie naming NAME
  local h=()
  [[ -n ${3:-} ]] && h=(-H "$3")
  curl -sS -m 3 -D - -o /dev/null "${h[@]}" "$1" 2>/dev/null | tr -d '\r' |
    sed -n "s/^[Ss]et-[Cc]ookie: *\($2=[^;]*\).*/\1/p" | head -n 1
}

check() { # SCENARIO PEER HOST:PORT -> 0 when the peer answers through this scenario's path
  local sc=$1 peer=$2 ep=$3 url="http://$3/" cookie name
  case $sc in
    http-rr | tcp-keepalive | tcp-newconn)
      have wrk || return 1
      [[ $(http_code "$url") == 200 ]] || { skip "$peer $sc: no 200 through $ep"; return 1; } ;;
    http-cookie-new | http-cookie-returning)
      have wrk || return 1
      name=STICKYLB
      [[ $peer == haproxy ]] && name=SRV
      cookie=$(set_cookie "$url" "$name")
      [[ -n $cookie ]] || { skip "$peer $sc: no Set-Cookie $name through $ep"; return 1; }
      if [[ $sc == http-cookie-returning ]]; then
        HEADER[$sc/$peer]="Cookie: $cookie"
        # A returning client is not given a new cookie (stickylb re-issues only as the cookie ages).
        [[ $(http_code "$url" "Cookie: $cookie") == 200 ]] || { skip "$peer $sc: cookie refused"; return 1; }
        [[ -z $(set_cookie "$url" "$name" "Cookie: $cookie") ]] ||
          log "note: $peer sets a cookie again for a returning client"
      fi ;;
    http-app-cookie)
      have wrk || return 1
      HEADER[$sc/$peer]="Cookie: JSESSIONID=abc"
      [[ $(set_cookie "$url" JSESSIONID "Cookie: JSESSIONID=abc") == "JSESSIONID=abc" ]] ||
        { skip "$peer $sc: no JSESSIONID through $ep"; return 1; } ;;
    tcp-bulk)
      have iperf3 || return 1
      timeout -k 2 15 iperf3 -c "${ep%:*}" -p "${ep##*:}" -t 1 >"$RUN_DIR/check-$peer-$sc.log" 2>&1 ||
        { skip "$peer $sc: iperf3 failed through $ep"; restart_iperf_server; return 1; } ;;
    udp)
      timeout -k 2 5 node dist/bench/lib/udp-load.js --target "$ep" --probe ||
        { skip "$peer $sc: no UDP reply through $ep"; return 1; } ;;
  esac
  [[ $sc == tcp-newconn ]] && HEADER[$sc/$peer]="Connection: close"
  return 0
}

select_pairs() {
  local sc item peer ep
  for sc in $SCENARIOS; do
    [[ -n ${ENDPOINTS[$sc]:-} ]] || { skip "unknown scenario $sc"; continue; }
    for item in ${ENDPOINTS[$sc]}; do
      peer=${item%%=*}
      ep=${item#*=}
      [[ $ep == *:* ]] || ep=127.0.0.1:$ep
      wanted "$peer" "$PEERS" || continue
      # Peers that are missing or did not start were reported by a skip line already.
      [[ -n ${STARTED[$peer]:-} ]] || continue
      [[ $peer == nginx && ($sc == tcp-* || $sc == udp) ]] && ((!HAVE_STREAM)) && continue
      if check "$sc" "$peer" "$ep"; then
        TARGET[$sc/$peer]=$ep
        ACTIVE+=("$sc/$peer")
      fi
    done
  done
}

ms_awk='function ms(v) {
  if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /m$/) return v * 60000
  if (v ~ /s$/) return v * 1000; return v + 0 }'

# Each measure_* prints `value unit p50 p99 errors` or fails.
measure_wrk() { # HOST:PORT SECONDS [HEADER]
  local h=() out
  [[ -n ${3:-} ]] && h=(-H "$3")
  out=$(timeout -k 2 $(($2 + 15)) taskset -c "$LOADGEN_CPU" \
    wrk -t1 -c"$CONNECTIONS" -d"$2s" --timeout 2s --latency "${h[@]}" "http://$1/" 2>&1) || return 1
  awk "$ms_awk"'
    /^Requests\/sec:/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { err += $NF }
    /Socket errors:/ { err += $4 + $6 + $8 + $10 }
    END { if (rps == "") exit 1; printf "%s req/s %.3f %.3f %d\n", rps, p50, p99, err }' <<<"$out"
}

measure_iperf() { # HOST:PORT SECONDS
  local out
  out=$(timeout -k 2 $(($2 + 20)) taskset -c "$LOADGEN_CPU" iperf3 -c "${1%:*}" -p "${1##*:}" -t "$2" -J 2>&1)
  node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const bps = j.end?.sum_received?.bits_per_second;
    if (j.error || !bps) process.exit(1);
    console.log(`${(bps / 1e9).toFixed(3)} Gbit/s NaN NaN 0`);' <<<"$out" 2>/dev/null ||
    { restart_iperf_server; return 1; }
}

measure_udp() { # HOST:PORT SECONDS
  local out
  out=$(timeout -k 2 $(($2 + 15)) taskset -c "$LOADGEN_CPU" node dist/bench/lib/udp-load.js --target "$1" \
    --clients "$CONNECTIONS" --duration "$2") || return 1
  awk '/^RESULT / { printf "%s datagrams/s %s %s %s\n", $2, $3, $4, $5; found = 1 } END { exit !found }' <<<"$out"
}

measure() { # SCENARIO PEER SECONDS
  local key=$1/$2
  case $1 in
    tcp-bulk) measure_iperf "${TARGET[$key]}" "$3" ;;
    udp) measure_udp "${TARGET[$key]}" "$3" ;;
    *) measure_wrk "${TARGET[$key]}" "$3" "${HEADER[$key]:-}" ;;
  esac
}

run_rounds() {
  local round sc peer pairs n i offset key value unit p50 p99 errors
  if ((WARMUP > 0)); then
    for key in "${ACTIVE[@]}"; do
      case ${key#*/} in stickylb | stickylb-baseline | node-http-proxy | naive-node) ;; *) continue ;; esac
      measure "${key%%/*}" "${key#*/}" "$WARMUP" >/dev/null || true
    done
    log "warm-up done (${WARMUP}s per Node-based peer and scenario)"
  fi
  for ((round = 1; round <= ROUNDS; round++)); do
    for sc in $SCENARIOS; do
      pairs=()
      for key in "${ACTIVE[@]}"; do [[ ${key%%/*} == "$sc" ]] && pairs+=("$key"); done
      n=${#pairs[@]}
      ((n)) || continue
      # The peers take turns going first from one round to the next.
      offset=$(((round - 1) % n))
      for ((i = 0; i < n; i++)); do
        key=${pairs[$(((i + offset) % n))]}
        peer=${key#*/}
        # Into a file, not $(...): measure may restart the iperf3 server, which must stay tracked.
        if measure "$sc" "$peer" "$DURATION" >"$RUN_DIR/result"; then
          read -r value unit p50 p99 errors <"$RUN_DIR/result"
          printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$sc" "$peer" "$value" "$unit" "$p50" "$p99" \
            "$errors" >>"$SAMPLES"
          if [[ $p50 == NaN ]]; then
            log "round $round/$ROUNDS $sc $peer: $value $unit"
          else
            log "round $round/$ROUNDS $sc $peer: $value $unit (p50 $p50 ms, p99 $p99 ms, errors $errors)"
          fi
        else
          log "round $round/$ROUNDS $sc $peer: run failed, no sample"
        fi
      done
    done
  done
}

# ------------------------------------------------------------------------------------ facts

version_of() { "$@" 2>&1 | head -n 1; }

write_facts() {
  local commit dirty=""
  commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ -n $(git status --porcelain 2>/dev/null | head -n 1) ]] && dirty=" (work tree with uncommitted changes)"
  {
    printf 'date\t%s\n' "$(date -u +%F)"
    printf 'started (UTC)\t%s\n' "$(date -u +%H:%M)"
    printf 'CPU\t%s\n' "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
    printf 'nproc\t%s\n' "$(nproc)"
    printf 'kernel\t%s\n' "$(uname -r)"
    printf 'OS\t%s\n' "$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}")"
    printf 'load average at start\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf 'node\t%s\n' "$(node --version)"
    printf 'stickylb\t%s, commit %s%s\n' "$(node -p 'require("./package.json").version')" "$commit" "$dirty"
    [[ -n $BASELINE ]] && printf 'stickylb baseline\t%s, commit %s\n' "$BASELINE" \
      "$(git -C "$BASELINE" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    have haproxy && printf 'HAProxy\t%s\n' "$(version_of haproxy -v | sed 's/ - https.*//')"
    have nginx && printf 'NGINX\t%s\n' "$(version_of nginx -v)"
    printf 'node-http-proxy\t%s\n' "$(node -p 'require("http-proxy/package.json").version' 2>/dev/null || echo missing)"
    have wrk && printf 'wrk\t%s\n' "$(version_of wrk --version | cut -d' ' -f1-2)"
    have iperf3 && printf 'iperf3\t%s\n' "$(version_of iperf3 --version)"
    printf 'settings\tROUNDS=%s DURATION=%ss CONNECTIONS=%s WARMUP=%ss BACKEND_WORKERS=%s\n' "$ROUNDS" \
      "$DURATION" "$CONNECTIONS" "$WARMUP" "$BACKEND_WORKERS"
    printf 'pinning\tload generator on CPU %s; proxies and backends on CPU %s (taskset)\n' "$LOADGEN_CPU" "$PROXY_CPU"
  } >"$FACTS"
}

# ------------------------------------------------------------------------------------- main

main() {
  local started=$SECONDS
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  if (($(nproc) < 2)); then
    log "only $(nproc) CPU: load generator and proxies share it, figures are not comparable"
    LOADGEN_CPU=0 PROXY_CPU=0
  fi
  ensure_tools
  build
  ports_free
  start_all
  select_pairs
  ((${#ACTIVE[@]})) || die "nothing to measure (see the skip lines above)"
  log "measuring ${#ACTIVE[@]} scenario/peer pairs, $ROUNDS rounds of ${DURATION}s each"
  write_facts
  run_rounds
  printf 'load average at end\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$FACTS"
  mkdir -p "$(dirname "$RESULTS")"
  node dist/bench/lib/report.js --samples "$SAMPLES" --facts "$FACTS" --skips "$SKIPS" --out "$RESULTS" ||
    die "report failed"
  printf '\n'
  log "results written to ${RESULTS#"$ROOT"/} in $((SECONDS - started)) s"
}

main "$@"
