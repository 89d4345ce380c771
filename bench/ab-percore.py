#!/usr/bin/env python3
"""Two builds of the minimal app side by side, per core: the experiment against a baseline.

    bench/ab-percore.py BASE.dll NEW.dll [SCENARIO...]    (on a quiet machine)
        SCENARIO: h1 | h1-c256 | pipelined | h2c | 1mib | inline   (default: h1 pipelined h2c 1mib inline)

Per scenario both servers start (the server alone on core 0 with `taskset -c 0`, h2load on core 1;
SHARED=1 leaves both unpinned: the contention run), each warms up under the scenario's load
(WARMUP seconds, default 15: tiering on one busy core), then ROUNDS rounds (default 3) of MEASURE seconds
(default 8) each, alternating which build goes first. Prints per build the median req/s with
min-max and the server's CPU-s per 100k requests (utime + stime from /proc/PID/stat).
Both servers live through all rounds: the rounds measure the builds, not one fresh start against another.
BASE_ENV / NEW_ENV ("NAME=VALUE NAME=VALUE") add environment variables to one side (e.g. a runtime
knob measured on one build: pass the same DLL twice). BASE_TRANSPORT=sockets serves the base side with
Kestrel's Sockets transport instead of ours (the targets' ratio).
"""
import os, re, shutil, statistics, subprocess, sys, tempfile, time, urllib.parse

base_dll, new_dll, *scenarios = sys.argv[1:]
scenarios = scenarios or ['h1', 'pipelined', 'h2c', '1mib', 'inline']
warmup = int(os.environ.get('WARMUP', '15'))
rounds = int(os.environ.get('ROUNDS', '3'))
seconds = int(os.environ.get('MEASURE', '8'))
shared = bool(os.environ.get('SHARED'))
server_cpu = [] if shared else ['taskset', '-c', '0']
client_cpu = [] if shared else ['taskset', '-c', '1']
tick = os.sysconf('SC_CLK_TCK')

LOADS = {
    'h1': (['--h1', '-c', '32', '-m', '1'], [], '/plaintext'),
    'h1-c256': (['--h1', '-c', '256', '-m', '1'], [], '/plaintext'),
    'pipelined': (['--h1', '-c', '32', '-m', '16'], [], '/plaintext'),
    'h2c': (['-c', '32', '-m', '32'], ['--Kestrel:EndpointDefaults:Protocols=Http2'], '/plaintext'),
    '1mib': (['--h1', '-c', '1', '-m', '1'], [], '/bytes/1048576'),
    'inline': (['--h1', '-c', '32', '-m', '1'], ['--inline'], '/plaintext'),
}


def cpu_seconds(pid):
    fields = open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick


def h2load(load, sock, path, duration):
    out = subprocess.run(client_cpu + ['h2load', *load, '-t', '1', '-D', str(duration), '-B', f'unix:{sock}',
                                       f'http://localhost{path}'], capture_output=True, text=True, check=True).stdout
    m = re.search(r'finished in [\d.]+\w+, ([\d.]+) req/s, ([\d.]+)(\w+)/s', out)
    done = re.search(r'requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded', out)
    if not m or not done or done.group(1) != done.group(2):
        raise SystemExit(f'h2load failed or requests failed:\n{out}')
    return float(m.group(1)), int(done.group(1))


work = tempfile.mkdtemp(prefix='unp-ab.')
servers = []
try:
    for scenario in scenarios:
        load, app_args, path = LOADS[scenario]
        procs = {}
        for name, dll in (('base', base_dll), ('new', new_dll)):
            sock = f'{work}/{name}.sock'
            env = dict(os.environ, DOTNET_gcServer='0', ASPNETCORE_ENVIRONMENT='Production', Logging__LogLevel__Default='Warning')
            env.update(kv.split('=', 1) for kv in os.environ.get(f'{name.upper()}_ENV', '').split())
            p = subprocess.Popen(server_cpu + ['dotnet', dll, '--transport', os.environ.get(f'{name.upper()}_TRANSPORT', 'native'), *app_args, '--urls', f'http://unix:{sock}'],
                                 env=env, stdout=subprocess.DEVNULL, stderr=open(f'{work}/{name}.log', 'w'))
            servers.append(p)
            for _ in range(400):
                probe = ['--http2-prior-knowledge'] if scenario == 'h2c' else []
                if subprocess.run(['curl', '-sf', *probe, '-o', '/dev/null', '--unix-socket', sock, 'http://localhost/plaintext']).returncode == 0:
                    break
                time.sleep(0.05)
            else:
                raise SystemExit(f'{name} did not start: {open(f"{work}/{name}.log").read()}')
            h2load(load, sock, path, warmup)
            procs[name] = (p, sock)
        results = {'base': [], 'new': []}
        for r in range(rounds):
            order = ('base', 'new') if r % 2 == 0 else ('new', 'base')
            for name in order:
                p, sock = procs[name]
                before = cpu_seconds(p.pid)
                rate, done = h2load(load, sock, path, seconds)
                used = cpu_seconds(p.pid) - before
                results[name].append((rate, used / done * 100_000))
        for p, _ in procs.values():
            p.terminate()
            p.wait()
            servers.remove(p)
        def cell(values, fmt):
            return f'{fmt(statistics.median(values))} ({fmt(min(values))}–{fmt(max(values))})'
        print(f'{scenario}{" (shared cores)" if shared else " (per core)"}: ' + ' | '.join(
            f'{name} {cell([x[0] for x in v], lambda x: f"{x:,.0f}")} req/s, '
            f'{cell([x[1] for x in v], lambda x: f"{x:.3f}")} CPU-s/100k'
            for name, v in results.items())
            + f' | new/base req/s {statistics.median([x[0] for x in results["new"]]) / statistics.median([x[0] for x in results["base"]]):.3f}',
            flush=True)
finally:
    for p in servers:
        p.kill()
        p.wait()
    shutil.rmtree(work, ignore_errors=True)
