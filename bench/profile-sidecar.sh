#!/usr/bin/env bash
# Where the sidecar client's CPU goes (docs/benchmarks.md, "End-to-end sidecar call"): the minimal app on
# core 0, the --sidecar client process (HttpClient, 32 callers) on core 1, WARMUP seconds of load (default 8),
# then `perf record -g` of the client for SECONDS (default 4). Prints the share of the client's samples by whose
# code ran (self time).
#
#   bench/profile-sidecar.sh [VARIANT] [SECONDS]     VARIANT: ours (default) | ours-stream | networkstream | tcp | sockets-unix
#
# Needs perf; builds MinimalApp and the bench in Release first (NO_BUILD=1: already built). Both processes run with DOTNET_PerfMapEnabled=1,
# DOTNET_EnableWriteXorExecute=0 and DOTNET_TC_CallCountingDelayMs=0 (as in --sidecar). KEEP=1 keeps the data.
set -euo pipefail

variant=${1:-ours}
seconds=${2:-4}
warmup=${WARMUP:-8}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v perf >/dev/null || { echo "bench/profile-sidecar.sh needs perf" >&2; exit 2; }
case $variant in
    ours|ours-stream|networkstream) transport=native ;;
    tcp|sockets-unix) transport=sockets ;;
    *) echo "unknown variant '$variant'" >&2; exit 2 ;;
esac

if [[ -z ${NO_BUILD:-} ]]; then
    dotnet build -c Release "$root/bench/MinimalApp" -v q -nologo >/dev/null
    dotnet build -c Release "$root/bench/Transport.UnixNative.Bench" -v q -nologo >/dev/null
fi
app=$root/bench/MinimalApp/bin/Release/net10.0/MinimalApp.dll
bench=$root/bench/Transport.UnixNative.Bench/bin/Release/net10.0/Transport.UnixNative.Bench.dll
work=$(mktemp -d /tmp/unp-sidecar.XXXXXX)
server= client=
cleanup() {
    [[ -n $client ]] && kill "$client" 2>/dev/null && wait "$client" 2>/dev/null || true
    [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    if [[ -n ${KEEP:-} ]]; then echo "perf data and reports kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 DOTNET_gcServer=0 DOTNET_TC_CallCountingDelayMs=0 \
    ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning

if [[ $variant == tcp ]]; then
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    urls=http://127.0.0.1:$port address=127.0.0.1:$port probe=(curl -sf -o /dev/null "http://127.0.0.1:$port/plaintext")
else
    sock=$work/app.sock
    urls=http://unix:$sock address=$sock probe=(curl -sf -o /dev/null --unix-socket "$sock" http://localhost/plaintext)
fi
taskset -c 0 dotnet "$app" --transport "$transport" --urls "$urls" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 200); do "${probe[@]}" && break; sleep 0.05; done

taskset -c 1 dotnet "$bench" --sidecar-client "$variant" "$address" --seconds $((warmup + seconds + 3)) --callers 32 >"$work/client.out" 2>&1 &
client=$!
sleep "$warmup"
# The client outlives the recording by 3 s: perf may hang when its target exits under it.
perf record -F 999 -g -p "$client" -o "$work/client.data" -- sleep "$seconds" >/dev/null 2>&1
wait "$client"; client=
perf report -i "$work/client.data" --no-children --sort dso,sym -g none --percent-limit 0 2>/dev/null >"$work/client.self"

python3 - "$work" "$variant" <<'PY'
import re, sys
work, variant = sys.argv[1:3]
CATEGORIES = [
    ('SocketsHttpHandler (System.Net.Http)', lambda d, s: '[System.Net.Http]' in s),
    ('System.Net.Sockets (Socket, NetworkStream, SocketAsyncEngine)', lambda d, s: '[System.Net.Sockets]' in s),
    ('System.Net.Primitives, System.Private.Uri, headers', lambda d, s: re.search(r'\[System\.(Net\.Primitives|Private\.Uri)\]', s) is not None),
    ('our client (Transport.UnixNative.Client)', lambda d, s: '[Transport.UnixNative.Client]' in s),
    ('the bench\'s caller loop (Transport.UnixNative.Bench)', lambda d, s: '[Transport.UnixNative.Bench]' in s),
    ('CoreLib: threading, thread pool, tasks, async state machines', lambda d, s: '[System.Private.CoreLib]' in s and re.search(r'System\.Threading|AsyncTaskMethodBuilder|AsyncValueTask|ExecutionContext|ThreadPool|Task`?1?\.|TaskAwaiter|ValueTask|ManualResetValueTaskSourceCore|IOCompletion', s) is not None),
    ('CoreLib: the rest (strings, spans, collections, GC write barriers)', lambda d, s: re.search(r'\[System\.', s) is not None or d.startswith('[JIT]')),
    ('runtime (libcoreclr: GC, allocation, stubs, thread pool native)', lambda d, s: 'libcoreclr' in d),
    ('JIT compiler (libclrjit)', lambda d, s: 'libclrjit' in d),
    ('kernel: scheduler (context switches, wake-ups, futex)', lambda d, s: d == '[kernel.kallsyms]' and re.search(r'finish_task_switch|__schedule|do_sched_yield|pick_next|update_curr|dequeue_task|enqueue_task|try_to_wake_up|futex|select_task_rq|ttwu', s) is not None),
    ('kernel: the rest (socket send/recv, epoll, syscall entry)', lambda d, s: d == '[kernel.kallsyms]'),
    ('other native (libc, libSystem.Native, vdso)', lambda d, s: True),
]
shares = [0.0] * len(CATEGORIES)
top = []
for line in open(f'{work}/client.self', errors='replace'):
    m = re.match(r'\s+([\d.]+)%\s+(\S+(?: tid \d+)?)\s+\[[.k]\]\s+(.*)$', line)
    if not m:
        continue
    pct, dso, sym = float(m.group(1)), m.group(2), m.group(3)
    top.append((pct, sym.strip()))
    for i, (_, match) in enumerate(CATEGORIES):
        if match(dso, sym):
            shares[i] += pct
            break
out = open(f'{work}/client.out').read().split()
rate = f'{int(out[1]) / float(out[2]):,.0f} req/s over the whole run' if out and out[0] == 'done' else 'no rate'
print(f'### Sidecar client profile: {variant}, pinned (client on core 1), perf record -g at 999 Hz, share of the client\'s samples\n')
print('| whose code | share |')
print('|---|---:|')
for i, (name, _) in enumerate(CATEGORIES):
    print(f'| {name} | {shares[i]:.1f} % |')
print(f'| load (whole run, perf slows it) | {rate} |')
print('\nTop 25 symbols (self):')
for pct, sym in sorted(top, reverse=True)[:25]:
    print(f'  {pct:5.2f}%  {sym[:150]}')
PY
