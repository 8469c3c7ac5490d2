#!/usr/bin/env bash
# Plaintext HTTP/1.1 keep-alive benchmark: greenlet vs tokio+hyper vs
# may_minihttp, on 1 and 2 threads.
#
# For each server and thread count: start it, warm up 1 s with wrk, then
# measure `wrk -t2 -c100 -d5s` and the server's CPU time (utime + stime from
# /proc/PID/stat, fields 14 and 15, in CLK_TCK ticks) over the measured run;
# CPU µs per request = that CPU time / the requests wrk completed. With
# RUNS=N the whole set is measured N times, the servers taking turns, and
# the table shows each figure's median over the runs (ratios of medians).
#
#   peers/http_bench/run.sh              # from anywhere; PORT=18080 by default
#   PORT=19000 DURATION=5s RUNS=5 peers/http_bench/run.sh
#
# wrk and the servers share the machine's cores: requests/s is what the
# pair reaches together; CPU µs/request counts the server process only.
set -euo pipefail
cd "$(dirname "$0")"

PORT=${PORT:-18080}
DURATION=${DURATION:-5s}
RUNS=${RUNS:-1}
# PIN=1: on 1 thread, the server runs on CPU 0 and wrk on CPU 1 (taskset),
# so the two stop competing for a core and requests/s measures the server.
PIN=${PIN:-0}
SERVERS=(greenlet hyper may)
THREADS=(${THREADS:-1 2})
LOGS=target/bench-logs
server_pid=

cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! command -v wrk >/dev/null; then
    echo "installing wrk..." >&2
    apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

cargo build --release --quiet
mkdir -p "$LOGS"
TICK=$(getconf CLK_TCK)

# utime + stime of a process, in clock ticks. The fields are counted after
# the ")" that closes the command name (which may contain spaces): there,
# field 3 (state) is the first, so fields 14 and 15 are the 12th and 13th.
cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    set -- $stat
    echo $(( ${12} + ${13} ))
}

# Waits (up to 5 s) until something accepts on the port.
wait_port() {
    for _ in $(seq 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "server did not start on port $PORT" >&2
    return 1
}

# The median of the numbers on stdin, one per line.
median() {
    sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

declare -A RPS CPU
results="$LOGS/results"
: >"$results"
for run in $(seq "$RUNS"); do
for n in "${THREADS[@]}"; do
    for s in "${SERVERS[@]}"; do
        log="$LOGS/${s}_${n}"
        server_cpus=() wrk_cpus=()
        if [[ $PIN == 1 && $n == 1 ]]; then
            server_cpus=(taskset -c 0) wrk_cpus=(taskset -c 1)
        fi
        "${server_cpus[@]}" "./target/release/${s}_server" --threads "$n" "$PORT" 2>"$log.server" &
        server_pid=$!
        wait_port
        "${wrk_cpus[@]}" wrk -t2 -c100 -d1s "http://127.0.0.1:$PORT/" >"$log.warmup"
        before=$(cpu_ticks "$server_pid")
        "${wrk_cpus[@]}" wrk -t2 -c100 -d"$DURATION" "http://127.0.0.1:$PORT/" >"$log.wrk"
        after=$(cpu_ticks "$server_pid")
        cleanup
        server_pid=
        requests=$(awk '/ requests in /{print $1}' "$log.wrk")
        RPS[$s,$n]=$(awk '/^Requests\/sec:/{print $2}' "$log.wrk")
        CPU[$s,$n]=$(awk -v t=$((after - before)) -v hz="$TICK" -v r="$requests" \
            'BEGIN{printf "%.2f", t * 1e6 / hz / r}')
        if grep -q "Non-2xx\|Socket errors" "$log.wrk"; then
            echo "note: $s on $n thread(s): $(grep "Non-2xx\|Socket errors" "$log.wrk")" >&2
        fi
        echo "run $run: $s, $n thread(s): ${RPS[$s,$n]} requests/s, ${CPU[$s,$n]} CPU µs/request ($requests requests, $((after - before)) ticks)" >&2
        echo "$s $n ${RPS[$s,$n]} ${CPU[$s,$n]}" >>"$results"
        sleep 0.5 # let the port's connections drain
    done
done
done
for n in "${THREADS[@]}"; do
    for s in "${SERVERS[@]}"; do
        RPS[$s,$n]=$(awk -v s="$s" -v n="$n" '$1 == s && $2 == n {print $3}' "$results" | median)
        CPU[$s,$n]=$(awk -v s="$s" -v n="$n" '$1 == s && $2 == n {print $4}' "$results" | median)
    done
done

echo
echo "wrk -t2 -c100 -d$DURATION, GET / (<h1>Index</h1>), keep-alive; $(nproc) CPUs; CLK_TCK=$TICK; medians of $RUNS run(s)$([[ $PIN == 1 ]] && echo "; 1 thread pinned apart from wrk")"
echo "rps/hyper, cpu/hyper: this row's requests/s and CPU µs/request over hyper's at the same thread count"
printf '%-10s %7s %12s %12s %12s %12s\n' server threads requests/s "CPU_us/req" "rps/hyper" "cpu/hyper"
for n in "${THREADS[@]}"; do
    for s in "${SERVERS[@]}"; do
        awk -v s="$s" -v n="$n" -v r="${RPS[$s,$n]}" -v c="${CPU[$s,$n]}" \
            -v hr="${RPS[hyper,$n]}" -v hc="${CPU[hyper,$n]}" \
            'BEGIN{printf "%-10s %7d %12.0f %12.2f %12.2f %12.2f\n", s, n, r, c, r / hr, c / hc}'
    done
done
