#!/usr/bin/env bash
# CPU time per request of this build against another build of stickylb, HTTP scenarios.
#
#   bench/cpu-per-request.sh BASELINE_DIR        (npm run bench:cpu -- BASELINE_DIR)
#   PAIRS=5 DURATION=10 SCENARIOS="rr cookie-returning" bench/cpu-per-request.sh /tmp/baseline
#
# Requests per second move with everything else the machine runs; the CPU time the stickylb
# process spends per request moves far less (another process's load delays the work but does not
# add to it). Both builds run side by side on the same nginx backends, each under
# `wrk -t1 -cCONNECTIONS` for DURATION seconds, in PAIRS rounds of every scenario; the process's utime+stime
# from /proc/PID/stat before and after, divided by the requests wrk reports, gives µs of CPU per
# request. MODE=together (the default) loads both builds at the same time, so that both see the
# same machine (on one shared core the scheduler gives each the same CPU time, and the req/s ratio
# is then the inverse of the CPU ratio); MODE=alternate loads one at a time (A B B A …). The table
# gives every run, the medians, and the median over the rounds of each round's ratio (the two runs
# of a round saw the same machine, so their ratio drifts far less than either figure); lower CPU is
# better.
#
# Settings (environment):
#   MODE [together]  PAIRS [3]  DURATION [10]  WARMUP [3]  CONNECTIONS [64]  PORT_BASE [19300]
#   SCENARIOS [rr cookie-new cookie-returning app]: HTTP keep-alive round robin, HTTP_COOKIE new
#     clients, HTTP_COOKIE returning clients, APP_COOKIE (bench/run.sh's scenarios); also `tcp`,
#     keep-alive HTTP through the TCP listener (SOURCE_IP). Each round runs them in the order given.
#   LOADGEN_CPU [0]  PROXY_CPU [1]   (taskset; as in bench/run.sh)
#   SKIP_BUILD [0]   1: use dist/ as it is
#   PROFILE []       a folder: both builds run with `node --cpu-prof` and write their profiles there
# Everything listens on loopback only; every process started here is stopped on exit.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASELINE=${1:-}
[[ -n $BASELINE && -f $BASELINE/dist/src/main.js ]] ||
  { echo "usage: bench/cpu-per-request.sh BASELINE_DIR (a built checkout: BASELINE_DIR/dist/src/main.js)" >&2; exit 2; }
BASELINE=$(cd "$BASELINE" && pwd)
cd "$ROOT" || exit 1
PAIRS=${PAIRS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-64}
PORT_BASE=${PORT_BASE:-19300}
SCENARIOS=${SCENARIOS:-rr cookie-new cookie-returning app}
LOADGEN_CPU=${LOADGEN_CPU:-0}
PROXY_CPU=${PROXY_CPU:-1}
SKIP_BUILD=${SKIP_BUILD:-0}
PROFILE=${PROFILE:-}
MODE=${MODE:-together}
[[ $MODE == together || $MODE == alternate ]] || { echo "cpu-per-request: MODE is together or alternate" >&2; exit 2; }
for n in PAIRS DURATION WARMUP CONNECTIONS PORT_BASE LOADGEN_CPU PROXY_CPU; do
  [[ ${!n} =~ ^[0-9]+$ ]] || { echo "cpu-per-request: $n must be a whole number, got '${!n}'" >&2; exit 2; }
done
for tool in wrk nginx curl taskset; do
  command -v "$tool" >/dev/null || { echo "cpu-per-request: $tool is missing" >&2; exit 2; }
done

B1=127.0.1.1 B2=127.0.1.2 B3=127.0.1.3
BACKEND_HTTP=$((PORT_BASE + 10)) BACKEND_APP=$((PORT_BASE + 11))
BACKEND_UDP=$((PORT_BASE + 12)) BACKEND_IPERF=$((PORT_BASE + 13)) BACKEND_WORKERS=2
TICK=$(getconf CLK_TCK)
RUN_DIR=$(mktemp -d /tmp/stickylb-cpu.XXXXXX)
PIDS=()
LOAD_STREAM="" STREAM_INCLUDE=""

log() { printf '[cpu] %s\n' "$*" >&2; }
cleanup() {
  trap - EXIT INT TERM
  local pid i
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for ((i = 0; i < 100; i++)); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

render() { # TEMPLATE OUT VAR...
  local text var
  text=$(<"$1")
  for var in "${@:3}"; do text=${text//@$var@/${!var}}; done
  printf '%s\n' "$text" >"$2"
}
wait_tcp() { # HOST PORT
  local i
  for ((i = 0; i < 100; i++)); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.1
  done
  log "nothing listens on $1:$2 (logs in $RUN_DIR)"
  return 1
}
cpu_ticks() { # PID -> utime + stime in clock ticks (fields 14 and 15; the name may hold spaces)
  local stat rest
  stat=$(<"/proc/$1/stat") || return 1
  rest=${stat##*) }
  read -r -a f <<<"$rest"
  echo $((f[11] + f[12]))
}

# Another run (or anything else) on these ports would be measured instead: refuse to start.
for p in $BACKEND_HTTP $BACKEND_APP $((PORT_BASE + 40)) $((PORT_BASE + 43)) $((PORT_BASE + 80)) $((PORT_BASE + 83)); do
  for h in 127.0.0.1 $B1; do
    (exec 3<>"/dev/tcp/$h/$p") 2>/dev/null && { log "port $p is in use on $h (set PORT_BASE)"; exit 2; }
  done
done

if [[ $SKIP_BUILD != 1 ]]; then npm run -s build >"$RUN_DIR/build.log" 2>&1 || { cat "$RUN_DIR/build.log" >&2; exit 1; }; fi

mkdir -p "$RUN_DIR/nginx-backend"
render bench/peers/nginx/backend.conf "$RUN_DIR/nginx-backend.conf" B1 B2 B3 BACKEND_HTTP BACKEND_APP \
  BACKEND_WORKERS RUN_DIR LOAD_STREAM STREAM_INCLUDE
taskset -c "$PROXY_CPU" nginx -p "$RUN_DIR/nginx-backend/" -e "$RUN_DIR/nginx-backend.err" \
  -c "$RUN_DIR/nginx-backend.conf" >"$RUN_DIR/nginx-backend.log" 2>&1 &
PIDS+=($!)
wait_tcp "$B1" "$BACKEND_HTTP" || exit 1

# Both builds: the benchmark's configuration (bench/peers/stickylb.yaml), each on its own ports.
declare -A PID=() RR=() COOKIE=() APP=() TCP=()
start_build() { # NAME DIR OFFSET
  local name=$1 dir=$2 off=$3 prof=()
  local SLB_HTTP_RR=$((PORT_BASE + off)) SLB_HTTP_COOKIE=$((PORT_BASE + off + 1))
  local SLB_HTTP_APP=$((PORT_BASE + off + 2)) SLB_TCP=$((PORT_BASE + off + 3))
  local SLB_UDP=$((PORT_BASE + off + 4)) SLB_BULK=$((PORT_BASE + off + 5))
  render bench/peers/stickylb.yaml "$RUN_DIR/$name.yaml" B1 B2 B3 BACKEND_HTTP BACKEND_APP BACKEND_UDP \
    BACKEND_IPERF SLB_HTTP_RR SLB_HTTP_COOKIE SLB_HTTP_APP SLB_TCP SLB_UDP SLB_BULK
  [[ -n $PROFILE ]] && mkdir -p "$PROFILE" && prof=(--cpu-prof --cpu-prof-dir "$PROFILE" --cpu-prof-name "$name.cpuprofile")
  taskset -c "$PROXY_CPU" node "${prof[@]}" "$dir/dist/src/main.js" run -f "$RUN_DIR/$name.yaml" --admin off \
    --log-level warn --drain-timeout 1s --state-dir "$RUN_DIR/state-$name" >"$RUN_DIR/$name.log" 2>&1 &
  PIDS+=($!)
  PID[$name]=$!
  RR[$name]=$SLB_HTTP_RR COOKIE[$name]=$SLB_HTTP_COOKIE APP[$name]=$SLB_HTTP_APP TCP[$name]=$SLB_TCP
  wait_tcp 127.0.0.1 "$SLB_HTTP_RR"
}
start_build this "$ROOT" 80 || exit 1
start_build baseline "$BASELINE" 40 || exit 1

endpoint() { # SCENARIO BUILD -> "PORT|HEADER"
  local cookie
  case $1 in
    rr) echo "${RR[$2]}|" ;;
    cookie-new) echo "${COOKIE[$2]}|" ;;
    cookie-returning)
      cookie=$(curl -sS -m 3 -D - -o /dev/null "http://127.0.0.1:${COOKIE[$2]}/" | tr -d '\r' |
        sed -n 's/^[Ss]et-[Cc]ookie: *\(STICKYLB=[^;]*\).*/\1/p' | head -n 1)
      echo "${COOKIE[$2]}|Cookie: $cookie" ;;
    app) echo "${APP[$2]}|Cookie: JSESSIONID=abc" ;;
    tcp) echo "${TCP[$2]}|" ;;
    *) log "unknown scenario $1"; return 1 ;;
  esac
}

run_wrk() { # PORT HEADER SECONDS -> requests (stdout)
  local h=() out
  [[ -n $2 ]] && h=(-H "$2")
  out=$(timeout -k 2 $(($3 + 15)) taskset -c "$LOADGEN_CPU" wrk -t1 -c"$CONNECTIONS" -d"$3"s "${h[@]}" \
    "http://127.0.0.1:$1/" 2>&1) || return 1
  grep -q 'Non-2xx\|Socket errors' <<<"$out" && log "wrk reported errors: $(grep 'Non-2xx\|Socket errors' <<<"$out")"
  awk '/requests in/ {print $1}' <<<"$out"
}

measure() { # SCENARIO BUILD -> "µs/request req/s"
  local ep port header before after requests
  ep=$(endpoint "$1" "$2") || return 1
  port=${ep%%|*} header=${ep#*|}
  before=$(cpu_ticks "${PID[$2]}") || return 1
  requests=$(run_wrk "$port" "$header" "$DURATION") || return 1
  after=$(cpu_ticks "${PID[$2]}") || return 1
  awk -v t=$((after - before)) -v n="$requests" -v hz="$TICK" -v d="$DURATION" \
    'BEGIN { printf "%.2f %d\n", t / hz * 1e6 / n, n / d }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

measure_together() { # SCENARIO "FIRST SECOND" -> "µs/request req/s" of this build, then of the baseline (two lines)
  local b ep before=() after=() n=() waits=() w
  declare -A eps=()
  for b in this baseline; do eps[$b]=$(endpoint "$1" "$b") || return 1; done
  before=("$(cpu_ticks "${PID[this]}")" "$(cpu_ticks "${PID[baseline]}")")
  # Started one after the other, in the order given (it alternates with the rounds).
  for b in $2; do
    ep=${eps[$b]}
    run_wrk "${ep%%|*}" "${ep#*|}" "$DURATION" >"$RUN_DIR/wrk-$b" &
    waits+=($!)
  done
  for w in "${waits[@]}"; do wait "$w" || return 1; done
  after=("$(cpu_ticks "${PID[this]}")" "$(cpu_ticks "${PID[baseline]}")")
  n=("$(<"$RUN_DIR/wrk-this")" "$(<"$RUN_DIR/wrk-baseline")")
  for b in 0 1; do
    awk -v t=$((after[b] - before[b])) -v n="${n[b]}" -v hz="$TICK" -v d="$DURATION" \
      'BEGIN { printf "%.2f %d\n", t / hz * 1e6 / n, n / d }'
  done
}

log "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A ALL=() RATE=() RATIO=() RATE_RATIO=()
# As in bench/run.sh: every scenario is warmed up first, then each round runs every scenario, so
# that the code of each scenario is measured after the process has run all of them (the JIT's
# type feedback then is what a process serving mixed traffic has).
for sc in $SCENARIOS; do
  for b in this baseline; do
    ep=$(endpoint "$sc" "$b") || exit 1
    run_wrk "${ep%%|*}" "${ep#*|}" "$WARMUP" >/dev/null || { log "$b $sc: wrk failed"; exit 1; }
  done
done
for ((i = 1; i <= PAIRS; i++)); do
  for sc in $SCENARIOS; do
    # Which build's load starts first alternates with each round.
    order="this baseline"
    ((i % 2 == 0)) && order="baseline this"
    if [[ $MODE == together ]]; then
      r=$(measure_together "$sc" "$order") || { log "$sc: measurement failed"; exit 1; }
      rt=$(sed -n 1p <<<"$r") rb=$(sed -n 2p <<<"$r")
      log "round $i $sc: this ${rt% *} µs/request (${rt#* } req/s), baseline ${rb% *} µs/request (${rb#* } req/s)"
      ALL[$sc/this]+="${rt% *} " ALL[$sc/baseline]+="${rb% *} "
      RATE[$sc/this]+="${rt#* } " RATE[$sc/baseline]+="${rb#* } "
      RATIO[$sc]+="$(awk -v a="${rt% *}" -v b="${rb% *}" 'BEGIN { printf "%.4f", a / b }') "
      RATE_RATIO[$sc]+="$(awk -v a="${rt#* }" -v b="${rb#* }" 'BEGIN { printf "%.4f", a / b }') "
      continue
    fi
    declare -A ROUND=()
    for b in $order; do
      r=$(measure "$sc" "$b") || { log "$b $sc: measurement failed"; exit 1; }
      log "round $i $sc $b: ${r% *} µs/request (${r#* } req/s)"
      ALL[$sc/$b]+="${r% *} "
      RATE[$sc/$b]+="${r#* } "
      ROUND[$b]=$r
    done
    RATIO[$sc]+="$(awk -v a="${ROUND[this]% *}" -v b="${ROUND[baseline]% *}" 'BEGIN { printf "%.4f", a / b }') "
    RATE_RATIO[$sc]+="$(awk -v a="${ROUND[this]#* }" -v b="${ROUND[baseline]#* }" 'BEGIN { printf "%.4f", a / b }') "
  done
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
printf '\nMODE=%s PAIRS=%s DURATION=%ss CONNECTIONS=%s; CPU µs per request, lower is better\n\n' "$MODE" "$PAIRS" \
  "$DURATION" "$CONNECTIONS"
printf '| scenario | this build µs/request (each round) | baseline µs/request (each round) | medians this / baseline | CPU this ÷ baseline (median of the rounds) | req/s this ÷ baseline (median of the rounds) |\n'
printf '| --- | --- | --- | ---: | ---: | ---: |\n'
for sc in $SCENARIOS; do
  mt=$(med "${ALL[$sc/this]}") mb=$(med "${ALL[$sc/baseline]}")
  printf '| %s | %s | %s | %s / %s | **%s** | %s |\n' "$sc" "${ALL[$sc/this]% }" "${ALL[$sc/baseline]% }" "$mt" "$mb" \
    "$(med "${RATIO[$sc]}")" "$(med "${RATE_RATIO[$sc]}")"
done
log "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
