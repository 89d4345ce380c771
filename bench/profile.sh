#!/usr/bin/env bash
# Where the server's CPU goes, ours beside Kestrel's Sockets transport: the profile behind each
# target the benchmark misses (docs/benchmarks.md, "What holds the missed targets back").
#
#   bench/profile.sh SCENARIO [SECONDS]     SCENARIO: h1 | h1-c256 | pipelined | h2c | 1mib | inline
#
# For each transport: a fresh MinimalApp (the same-work app) on a unix socket, h2load for 6 s of
# warm-up (tiering; WARMUP=S to change), then `perf record -g` of the server for SECONDS (default 4) under the same load.
# Prints one table: the share of the server's samples by whose code ran (self time), and the
# thread pool's idle spinning (inclusive: LowLevelLifoSemaphore.Wait and the sched_yield under it).
# Needs perf (Debian: linux-perf) and h2load (nghttp2-client); builds MinimalApp in Release first.
# Profiling runs with DOTNET_PerfMapEnabled=1 and DOTNET_EnableWriteXorExecute=0 (so perf can name
# JIT'd code) on both transports alike. KEEP=1 keeps the perf data and reports.
# PIN=1 profiles capacity per core: the server alone on core 0 (`taskset -c 0`, so the runtime sees one
# CPU: one I/O thread, a small thread pool), h2load on core 1, 15 s of warm-up (tiering on one busy core).
# DLL=path profiles another build of MinimalApp (e.g. a baseline built elsewhere) and skips the build.
set -euo pipefail

scenario=${1:?usage: bench/profile.sh h1|h1-c256|pipelined|h2c|1mib|inline [SECONDS]}
seconds=${2:-4}
pin=${PIN:-}
warmup=${WARMUP:-$([[ -n $pin ]] && echo 15 || echo 6)}
server_cpu=()
client_cpu=()
if [[ -n $pin ]]; then
    server_cpu=(taskset -c 0)
    client_cpu=(taskset -c 1)
fi
root=$(cd "$(dirname "$0")/.." && pwd)
app_args=()
url=http://localhost/plaintext
case $scenario in
    h1) load=(--h1 -c 32 -m 1) ;;
    h1-c256) load=(--h1 -c 256 -m 1) ;;
    pipelined) load=(--h1 -c 32 -m 16) ;;
    h2c) load=(-c 32 -m 32); app_args=(--Kestrel:EndpointDefaults:Protocols=Http2) ;;
    1mib) load=(--h1 -c 1 -m 1); url=http://localhost/bytes/1048576 ;;
    inline) load=(--h1 -c 32 -m 1); app_args=(--inline) ;;
    *) echo "unknown scenario '$scenario'" >&2; exit 2 ;;
esac
for tool in perf h2load curl python3 ${pin:+taskset}; do
    command -v "$tool" >/dev/null || { echo "bench/profile.sh needs $tool" >&2; exit 2; }
done

dll=${DLL:-}
if [[ -z $dll ]]; then
    dotnet build -c Release "$root/bench/MinimalApp" -v q -nologo >/dev/null
    dll=$root/bench/MinimalApp/bin/Release/net10.0/MinimalApp.dll
fi
work=$(mktemp -d /tmp/unp-profile.XXXXXX)
server=
cleanup() {
    [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    if [[ -n ${KEEP:-} ]]; then echo "perf data and reports kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

for transport in native sockets; do
    sock=$work/$transport.sock
    DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 DOTNET_gcServer=0 \
        ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning \
        "${server_cpu[@]}" dotnet "$dll" --transport "$transport" "${app_args[@]}" --urls "http://unix:$sock" >"$work/$transport.log" 2>&1 &
    server=$!
    for _ in $(seq 200); do
        curl -sf -o /dev/null --unix-socket "$sock" http://localhost/plaintext && break
        sleep 0.05
    done
    "${client_cpu[@]}" h2load "${load[@]}" -t 1 -D "$warmup" -B "unix:$sock" "$url" >/dev/null
    "${client_cpu[@]}" perf record -F 999 -g -p "$server" -o "$work/$transport.data" -- sleep "$seconds" >/dev/null 2>&1 &
    recorder=$!
    "${client_cpu[@]}" h2load "${load[@]}" -t 1 -D "$seconds" -B "unix:$sock" "$url" | awk '/^finished in/{sub(/,$/, "", $5); print $4, $5}' >"$work/$transport.rate"
    wait "$recorder" || true
    kill "$server"; wait "$server" 2>/dev/null || true
    server=
    perf report -i "$work/$transport.data" --no-children --sort dso,sym -g none --percent-limit 0 2>/dev/null >"$work/$transport.self"
    perf report -i "$work/$transport.data" --children --sort sym -g none --percent-limit 0 2>/dev/null >"$work/$transport.incl"
done

python3 - "$work" "$scenario" "${load[*]} $url" "$pin" <<'EOF'
import re, sys
work, scenario, load, pin = sys.argv[1:5]
# Whose code ran, by the assembly or library perf names for each sample (self time).
CATEGORIES = [
    ('our transport (Transport.UnixNative)', lambda d, s: '[Transport.UnixNative]' in s),
    ("Kestrel's Sockets transport, System.Net.Sockets", lambda d, s: 'Kestrel.Transport.Sockets]' in s or '[System.Net.Sockets]' in s),
    ('System.IO.Pipelines', lambda d, s: '[System.IO.Pipelines]' in s),
    ('Kestrel core (HTTP)', lambda d, s: '[Microsoft.AspNetCore.Server.Kestrel.Core]' in s),
    ('rest of ASP.NET Core and the app', lambda d, s: re.search(r'\[(Microsoft\.|MinimalApp)', s) is not None),
    ('.NET libraries and JIT stubs (CoreLib, write barriers)', lambda d, s: re.search(r'\[System\.', s) is not None or d.startswith('[JIT]')),
    ('runtime (libcoreclr: GC, stubs, thread pool native)', lambda d, s: 'libcoreclr' in d),
    ('JIT compiler (libclrjit: tiering)', lambda d, s: 'libclrjit' in d),
    ('kernel: scheduler (context switches, yields)', lambda d, s: d == '[kernel.kallsyms]' and re.search(r'finish_task_switch|__schedule|do_sched_yield|pick_next|update_curr|dequeue_task|enqueue_task', s) is not None),
    ('kernel: the rest (socket copies, epoll, syscalls)', lambda d, s: d == '[kernel.kallsyms]'),
    ('other native (libc, System.Native, vdso)', lambda d, s: True),
]
def self_shares(path):
    shares = [0.0] * len(CATEGORIES)
    for line in open(path, errors='replace'):
        m = re.match(r'\s+([\d.]+)%\s+(\S+(?: tid \d+)?)\s+\[[.k]\]\s+(.*)$', line)
        if not m:
            continue
        pct, dso, sym = float(m.group(1)), m.group(2), m.group(3)
        for i, (_, match) in enumerate(CATEGORIES):
            if match(dso, sym):
                shares[i] += pct
                break
    return shares
def inclusive(path, needle):
    for line in open(path, errors='replace'):
        m = re.match(r'\s+([\d.]+)%\s+[\d.]+%\s+\[[.k]\]\s+(.*)$', line)
        if m and needle in m.group(2):
            return float(m.group(1))
    return 0.0
cols = {}
for t in ('native', 'sockets'):
    rate = open(f'{work}/{t}.rate').read().strip()
    cols[t] = (self_shares(f'{work}/{t}.self'), inclusive(f'{work}/{t}.incl', 'LowLevelLifoSemaphore::Wait'), rate)
where = ', server alone on core 0, h2load on core 1' if pin else ''
print(f'### Profile: {scenario} (`h2load {load}`), minimal app{where}, perf record -g at 999 Hz, share of the server\'s samples\n')
print(f'| whose code | UnixNative | Sockets |')
print(f'|---|---:|---:|')
for i, (name, _) in enumerate(CATEGORIES):
    print(f'| {name} | {cols["native"][0][i]:.1f} % | {cols["sockets"][0][i]:.1f} % |')
print(f'| *inclusive:* thread-pool workers spinning for work (LowLevelLifoSemaphore.Wait) | {cols["native"][1]:.1f} % | {cols["sockets"][1]:.1f} % |')
print(f'| load while profiled (perf slows both) | {cols["native"][2]} | {cols["sockets"][2]} |')
EOF
