#!/usr/bin/env python3
"""Runs the wsx speed yardstick (``make bench``) and writes benches/RESULTS.md.

Every figure is measured side by side in one run on this machine and judged as
a ratio: the server is pinned to one core, the load generator to another, and
each cell of the grid is the median of interleaved rounds.

Settings (environment): BENCH_WARMUP and BENCH_DURATION (seconds per cell),
BENCH_ROUNDS, BENCH_PARTS (comma list of grid,micro,bindings,memory,fanout,deflate,cluster,loops,scale),
BENCH_IDLE_CONNS, BENCH_SERVER_CPU and BENCH_CLIENT_CPU, BENCH_MICRO_TIME, and for scale
BENCH_SCALE_ONE, BENCH_SCALE_MANY and BENCH_SCALE_SERVERS.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Optional

BENCHES = Path(__file__).resolve().parent
ROOT = BENCHES.parent
RELEASE = BENCHES / "target" / "release"
NATIVE = BENCHES / "target" / "native"



def setting(name: str, default: str) -> str:
    """An environment setting; unset and empty both mean the default."""
    return os.environ.get(name) or default


WARMUP = float(setting("BENCH_WARMUP", "1"))
DURATION = float(setting("BENCH_DURATION", "3"))
ROUNDS = int(setting("BENCH_ROUNDS", "3"))
PARTS = setting("BENCH_PARTS", "grid,micro,bindings,memory,fanout,deflate,cluster,loops,scale").split(",")
IDLE_CONNS = int(setting("BENCH_IDLE_CONNS", "10000"))
MICRO_TIME = float(setting("BENCH_MICRO_TIME", "2"))
SERVER_CPU = setting("BENCH_SERVER_CPU", "0")
CLIENT_CPU = setting("BENCH_CLIENT_CPU", "1")
PY = setting("PY", sys.executable)

RAW, TUNG, FASTWS, WSX, WSX_C = "raw TCP", "tokio-tungstenite", "fastwebsockets", "wsx (Rust)", "wsx (C)"

# name -> (command, scheme)
SERVERS: dict[str, tuple[list[str], str]] = {
    RAW: ([str(RELEASE / "raw_echo")], "tcp"),
    TUNG: ([str(RELEASE / "tungstenite_echo")], "ws"),
    FASTWS: ([str(RELEASE / "fastws_echo")], "ws"),
    WSX: ([str(ROOT / "target" / "release" / "examples" / "echo_server")], "ws"),
    WSX_C: ([str(NATIVE / "echo_server")], "ws"),
}

# name -> (load, metric, unit, higher is better)
GRID: dict[str, tuple[dict[str, Any], str, str, bool]] = {
    "latency": ({"conns": 1, "inflight": 1, "size": 20, "kind": "binary"}, "p50_us", "p50 µs", False),
    "throughput": ({"conns": 100, "inflight": 1, "size": 20, "kind": "binary"}, "msgs_per_s", "msgs/s", True),
    "bandwidth": ({"conns": 10, "inflight": 1, "size": 65536, "kind": "binary"}, "mb_per_s", "MB/s", True),
    "large": ({"conns": 1, "inflight": 1, "size": 16 << 20, "kind": "utf8"}, "mb_per_s", "MB/s", True),
}


def pinned(cpu: Optional[str], cmd: list[str]) -> list[str]:
    """The command pinned to one core, where there are cores to spare (None: not pinned)."""
    if cpu is None or (os.cpu_count() or 1) < 2:
        return cmd
    return ["taskset", "-c", cpu, *cmd]


class Server:
    """An echo server pinned to the server core (or to none), stopped by its own pid."""

    def __init__(self, cmd: list[str], cpu: Optional[str] = SERVER_CPU) -> None:
        self.proc = subprocess.Popen(
            pinned(cpu, [*cmd, "--port", "0"]),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"{cmd[0]} did not start: {line!r}")
        self.addr = line.split()[2]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def load(server: Server, scheme: str, label: str, spec: dict[str, Any],
         cpu: Optional[str] = CLIENT_CPU) -> Optional[dict[str, Any]]:
    """One load generator run against `server`: its JSON line, or None."""
    cmd = [str(RELEASE / "loadgen"), "--target", f"{scheme}://{server.addr}/", "--label", label,
           "--warmup", str(WARMUP), "--duration", str(DURATION), "--server-pid", str(server.proc.pid)]
    for key, value in spec.items():
        cmd += [f"--{key}", str(value)]
    try:
        out = subprocess.run(pinned(cpu, cmd), capture_output=True, text=True,
                             timeout=WARMUP + DURATION + 120)
    except subprocess.TimeoutExpired:
        print(f"  {label}: timed out", file=sys.stderr)
        return None
    if out.returncode != 0:
        print(f"  {label}: {out.stderr.strip()}", file=sys.stderr)
        return None
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_grid() -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every server under every load, rounds interleaved, server order rotated."""
    results: dict[str, dict[str, list[dict[str, Any]]]] = {g: {s: [] for s in SERVERS} for g in GRID}
    names = [n for n, (cmd, _) in SERVERS.items() if Path(cmd[0]).exists()]
    for missing in set(SERVERS) - set(names):
        print(f"skipped: {missing}: not built ({SERVERS[missing][0][0]})", file=sys.stderr)
    for r in range(ROUNDS):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            cmd, scheme = SERVERS[name]
            for grid, (spec, metric, _, _) in GRID.items():
                # A fresh server per cell: no state carried from a bigger load.
                with Server(cmd) as server:
                    got = load(server, scheme, f"{name}/{grid}", spec)
                if got is not None:
                    results[grid][name].append(got)
                    print(f"  round {r + 1} {grid:10} {name:18} {got[metric]:>12,.1f} "
                          f"(server cpu {got['server_cpu']}, client cpu {got['client_cpu']})",
                          file=sys.stderr)
    return results


def efficiency(run: dict[str, Any], metric: str) -> Optional[float]:
    """The result per second of server CPU: robust to how much CPU the
    shared machine left the server."""
    cpu = run.get("server_cpu")
    return run[metric] / cpu if cpu else None


def median(runs: list[dict[str, Any]], key: str) -> Optional[float]:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def run_micro() -> dict[str, float]:
    """Criterion benches: GB/s for bulk work, frames/s for small frames."""
    cmd = ["cargo", "bench", "--locked", "-p", "wsx-micro", "--bench", "proto", "--",
           "--warm-up-time", str(max(MICRO_TIME / 2, 0.1)), "--measurement-time", str(MICRO_TIME)]
    subprocess.run(pinned(SERVER_CPU, cmd), cwd=BENCHES, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    out: dict[str, float] = {}
    for bench in (BENCHES / "target" / "criterion").glob("*/*/new"):
        meta = json.loads((bench / "benchmark.json").read_text())
        ns = json.loads((bench / "estimates.json").read_text())["mean"]["point_estimate"]
        throughput = meta["throughput"]
        if "Bytes" in throughput:
            out[f"{meta['full_id']} GB/s"] = throughput["Bytes"] / ns
        else:
            out[f"{meta['full_id']} frames/s"] = throughput["Elements"] / ns * 1e9
    return out


def run_clients(name: str, cmd: list[str]) -> list[dict[str, Any]]:
    """A request-response client against the wsx Rust echo server."""
    with Server(SERVERS[WSX][0]) as server:
        full = pinned(CLIENT_CPU, [*cmd, "--url", f"ws://{server.addr}/", "--duration", str(DURATION)])
        out = subprocess.run(full, capture_output=True, text=True, timeout=20 * DURATION + 120)
    if out.returncode != 0:
        print(f"  {name}: {out.stderr.strip()}", file=sys.stderr)
        return []
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def run_bindings() -> tuple[list[dict[str, Any]], list[str]]:
    """Every client, ROUNDS times in turn (a client's rate swings with the
    moment it ran on a shared machine; the report takes each one's median)."""
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    c_client = NATIVE / "rr_client"
    cs_client = NATIVE / "RrClient.exe"
    if not c_client.exists():
        notes.append("C client: skipped: not built")
    if not cs_client.exists():
        notes.append("C# client: skipped: not built")
    lib = os.environ.get("WSX_LIB_DIR", str(ROOT / "target" / "release"))
    mono = ["env", f"LD_LIBRARY_PATH={lib}", "mono", str(cs_client)]
    for _ in range(ROUNDS):
        for row in run_clients("python", [PY, str(BENCHES / "bindings" / "python_rr.py")]):
            if "module" not in row:
                rows.append(row)
            elif f"Python module measured: {row['module']}" not in notes:
                notes.append(f"Python module measured: {row['module']}")
        if c_client.exists():
            rows += run_clients("C", [str(c_client)])
        if cs_client.exists():
            # Both ways: continuations on the thread pool (the default) and inline on the loop thread.
            rows += run_clients("C#", mono)
            rows += run_clients("C# inline", [*mono, "--inline"])
            # The peer: the runtime's own System.Net.WebSockets.ClientWebSocket, the same loop.
            rows += run_clients("C# ClientWebSocket", [*mono, "--api", "clientwebsocket"])
    for note in notes:
        print(note, file=sys.stderr)
    return rows, notes


def run_memory() -> list[dict[str, Any]]:
    """Idle connections fresh from the handshake, then after one echo each."""
    results = []
    for echo_first in ("0", "1"):
        cmd = [str(RELEASE / "idle_memory"), "--loadgen", str(RELEASE / "loadgen"),
               "--conns", str(IDLE_CONNS), "--echo-first", echo_first]
        out = subprocess.run(pinned(SERVER_CPU, cmd), capture_output=True, text=True, timeout=300)
        if out.returncode != 0:
            print(f"  memory: {out.stderr.strip()}", file=sys.stderr)
            continue
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return results


def run_loops() -> dict[int, list[dict[str, Any]]]:
    """The Rust echo server on 1 loop and on 2 (`--loops`, ServerConfig::loops)
    under the grid's throughput load, nothing pinned: the loops and the load
    generator share the machine's cores as the scheduler sees fit. Rounds
    interleaved, the order alternating."""
    spec, metric = GRID["throughput"][0], GRID["throughput"][1]
    results: dict[int, list[dict[str, Any]]] = {1: [], 2: []}
    cmd = SERVERS[WSX][0]
    if not Path(cmd[0]).exists():
        print(f"skipped: loops: not built ({cmd[0]})", file=sys.stderr)
        return results
    for r in range(ROUNDS):
        for loops in (1, 2) if r % 2 == 0 else (2, 1):
            with Server([*cmd, "--loops", str(loops)], cpu=None) as server:
                got = load(server, "ws", f"wsx {loops} loops/throughput", spec, cpu=None)
            if got is not None:
                results[loops].append(got)
                print(f"  round {r + 1} throughput wsx, {loops} loop(s), unpinned {got[metric]:>12,.1f} "
                      f"(server cpu {got['server_cpu']}, client cpu {got['client_cpu']})", file=sys.stderr)
    return results


def report_loops(rep: Report, results: dict[int, list[dict[str, Any]]]) -> None:
    """One server on every core: 2 loops against 1 on the throughput load."""
    spec, metric, unit, _ = GRID["throughput"]
    cores = os.cpu_count() or 1
    rep.lines += ["## Every core: the Rust echo server on 1 loop and on 2", "",
                  f"The throughput load ({spec['conns']} connections × {spec['size']} B, one in flight each), "
                  f"server and load generator NOT pinned, on {cores} cores they share; medians of {ROUNDS} "
                  "interleaved rounds. With 2 cores the load generator needs about one of them, so a second "
                  "loop can gain only what the first left idle; on a machine with more cores than the load "
                  "generator uses, N loops should approach N times one loop's rate until the clients or the "
                  "network saturate. Server CPU is the share of a core the server process got (all its "
                  "loops): on a shared machine more loops also win a bigger share, which 'per server "
                  "CPU-second' separates from the work each message costs.", ""]
    rows = []
    for loops, runs in results.items():
        per_cpu = [e for e in (efficiency(run, metric) for run in runs) if e is not None]
        rows.append([str(loops), fmt(median(runs, metric)), fmt(median(runs, "server_cpu"), 2),
                     fmt(median(runs, "client_cpu"), 2),
                     fmt(statistics.median(per_cpu) if per_cpu else None), str(len(runs))])
    rep.table(["loops", unit, "server CPU", "client CPU", "per server CPU-second", "rounds"], rows)
    value = ratio(median(results[2], metric), median(results[1], metric))
    rep.target("throughput wsx 2 loops / 1 loop (load generator unpinned)", value, "> 1", lambda v: v > 1,
               aside=f" on {cores} cores shared with the load generator")
    if value is not None:
        rep.chart["throughput 2 loops / 1 loop"] = (value, value > 1)


def fmt(value: Optional[float], digits: int = 1) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a is not None and b else None


def machine() -> str:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return f"{os.cpu_count()} CPUs, {model}, {platform.system()} {platform.release()}; load average at start {load}"


def commit() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        # This bench's own output files do not count as changes to the code measured.
        dirty = subprocess.run(["git", "status", "--porcelain", "--", ".", ":!benches/RESULTS.md",
                                ":!benches/results.png"], cwd=ROOT, capture_output=True,
                               text=True).stdout.strip()
        return rev + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


class Report:
    """Collects the tables and the targets, in Markdown."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.targets: list[tuple[str, str, Optional[bool]]] = []
        # label -> (ratio, whether it is good news for wsx; None for a peer's bar)
        self.chart: dict[str, tuple[float, Optional[bool]]] = {}

    def table(self, head: list[str], rows: list[list[str]]) -> None:
        self.lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        self.lines += ["| " + " | ".join(row) + " |" for row in rows]
        self.lines.append("")

    def target(self, what: str, value: Optional[float], goal: str, check: Callable[[float], bool],
               digits: int = 2, aside: str = "") -> None:
        held = None if value is None else check(value)
        self.targets.append((what, f"{fmt(value, digits)} (goal {goal}){aside}", held))


def report_grid(rep: Report, results: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    rep.lines += ["## Echo grid", "",
                  f"Server on CPU {SERVER_CPU}, load generator on CPU {CLIENT_CPU}; medians of {ROUNDS} "
                  f"interleaved rounds of {WARMUP:g} s warm-up + {DURATION:g} s measured. Ratios are "
                  "wsx-or-peer / reference (for latency, lower is better). 'Per server CPU-second' divides "
                  "the result by the share of a core the server got (from /proc): on a shared machine it "
                  "tells efficiency apart from scheduling luck.", ""]
    head = ["load", "server", "result", "p50 µs", "p99 µs", "vs tokio-tungstenite", "vs raw TCP",
            "server CPU", "client CPU", "per server CPU-second", "rounds"]
    rows = []
    for grid, (spec, metric, unit, higher) in GRID.items():
        ref_t = median(results[grid][TUNG], metric)
        ref_r = median(results[grid][RAW], metric)
        for name in SERVERS:
            runs = results[grid][name]
            m = median(runs, metric)
            rows.append([
                f"{grid} ({spec['conns']}×{spec['size']} B {spec['kind']})", name,
                f"{fmt(m)} {unit}", fmt(median(runs, "p50_us")), fmt(median(runs, "p99_us")),
                fmt(ratio(m, ref_t), 2), fmt(ratio(m, ref_r), 2),
                fmt(median(runs, "server_cpu"), 2), fmt(median(runs, "client_cpu"), 2),
                "—" if not higher else fmt(median([{"e": efficiency(r, metric)} for r in runs], "e")),
                str(len(runs)),
            ])
            r = ratio(m, ref_t)
            if name in (WSX, WSX_C, FASTWS) and r is not None:
                good = None if name == FASTWS else (r <= 1.0 if not higher else r >= 1.0)
                rep.chart[f"{grid}: {name} / tungstenite"] = (r, good)
    rep.table(head, rows)

    def result(grid: str, name: str) -> Optional[float]:
        return median(results[grid][name], GRID[grid][1])

    def per_cpu(grid: str, name: str) -> Optional[float]:
        metric = GRID[grid][1]
        return median([{"e": efficiency(r, metric)} for r in results[grid][name]], "e")

    def higher_target(grid: str, ref: str, goal: float) -> None:
        """A target on the result, with the same ratio per server CPU-second
        beside it (what the noise of a shared machine moves less)."""
        efficient = ratio(per_cpu(grid, WSX), per_cpu(grid, ref))
        rep.target(f"{grid} wsx / {ref}", ratio(result(grid, WSX), result(grid, ref)), f"≥ {goal:g}",
                   lambda v: v >= goal, aside=f"; per server CPU-second {fmt(efficient, 2)}")

    higher_target("throughput", TUNG, 1.3)
    higher_target("throughput", FASTWS, 1.05)
    higher_target("bandwidth", RAW, 0.95)
    higher_target("large", TUNG, 2)
    higher_target("large", FASTWS, 1.1)
    rep.target("large wsx / fastwebsockets per server CPU-second", ratio(per_cpu("large", WSX),
               per_cpu("large", FASTWS)), "≥ 1", lambda v: v >= 1)
    rep.target("latency p50 wsx / raw TCP", ratio(result("latency", WSX), result("latency", RAW)),
               "≤ 1.05", lambda v: v <= 1.05)


def report_micro(rep: Report, micro: dict[str, float]) -> None:
    rep.lines += ["## Micro benchmarks (criterion, wsx-core)", ""]
    rep.table(["benchmark", "result"], [[k, f"{v:,.2f}" if "GB/s" in k else f"{v:,.0f}"]
                                        for k, v in sorted(micro.items())])
    rep.target("masking GB/s", micro.get("mask/1MiB GB/s"), "≥ 10", lambda v: v >= 10)
    rep.target("UTF-8 validation GB/s (ASCII-heavy)", micro.get("utf8/ascii_heavy_1MiB GB/s"),
               "≥ 5", lambda v: v >= 5)


def report_bindings(rep: Report, rows: list[dict[str, Any]], notes: list[str]) -> None:
    rep.lines += ["## Bindings: request-response on one connection (wsx Rust echo server)", "",
                  "With 1 message in flight every client waits a round trip per message, so the C client's "
                  "rate is the most any client reaches here: 'C client / theirs' is the highest ratio over "
                  "the peer that this test can show. With a window in flight, each library's own cost per "
                  f"message shows. Every client runs {ROUNDS} times in turn; the rates are medians.", ""]
    rates: dict[tuple[str, int, int], list[float]] = {}
    for r in rows:
        rates.setdefault((r["client"], r["size"], r.get("inflight", 1)), []).append(r["rt_per_s"])
    by = {key: statistics.median(values) for key, values in rates.items()}
    cases = sorted({(r["size"], r.get("inflight", 1)) for r in rows}, key=lambda c: (c[1], c[0]))
    cws = "C# ClientWebSocket (Mono)"
    pairs = [("wsx sync", "websockets sync"), ("wsx asyncio", "websockets asyncio"), ("C# (Mono, inline)", "C"),
             ("C# (Mono)", "C"), ("C# (Mono, inline)", cws), ("C# (Mono)", cws)]
    table = []
    for ours, theirs in pairs:
        # A peer library (not the C client) on the other side: 'ours / theirs' is wsx's ratio.
        peer = theirs != "C"
        label = "ClientWebSocket" if theirs == cws else theirs
        for size, window in cases:
            a, b = by.get((ours, size, window)), by.get((theirs, size, window))
            if a is None and b is None:
                continue
            floor = by.get(("C", size, window))
            table.append([f"{ours} vs {label}", f"{size} B", str(window), fmt(a, 0), fmt(b, 0),
                          fmt(ratio(a, b), 2), fmt(floor, 0), fmt(ratio(a, floor), 2),
                          fmt(ratio(floor, b), 2) if peer else "—"])
            if ours.startswith("wsx") and window > 1:
                rep.target(f"Python {ours} / {theirs}, {size} B, {window} in flight", ratio(a, b), "≥ 3",
                           lambda v: v >= 3)
            if window == 1 and ours != "C# (Mono)" and theirs != cws:
                # One message in flight: the C client's pace is the bar. For C#, that of
                # InlineCompletions, with the default (continuations on the pool) beside it.
                lang = "Python " + ours if ours.startswith("wsx") else ours
                aside = ""
                if ours == "C# (Mono, inline)":
                    aside = f"; default (pool continuations) {fmt(ratio(by.get(('C# (Mono)', size, window)), floor), 2)}"
                rep.target(f"{lang} / C client, {size} B, 1 in flight", ratio(a, floor), "≥ 0.9",
                           lambda v: v >= 0.9, aside=aside)
            r = ratio(a, b)
            if r is not None:
                good = r >= 1.0 if peer else None
                rep.chart[f"{ours} / {label} {size} B ×{window}"] = (r, good)
    rep.table(["pair", "message", "in flight", "ours msgs/s", "theirs msgs/s", "ratio",
               "C client msgs/s", "ours / C client", "C client / theirs"], table)
    floors = [(size, by.get(("asyncio floor", size, 1)), by.get(("asyncio future floor", size, 1)),
               by.get(("C", size, 1)), by.get(("wsx asyncio", size, 1)))
              for size, window in cases if window == 1]
    if any(f for _, f, _, _, _ in floors):
        rep.lines += ["asyncio's own floors, with no WebSocket code. The protocol floor: a bare `asyncio.Protocol` "
                      "writing one masked frame from its callback and counting the echo's bytes (no future or "
                      "task per message); no asyncio client can beat it, so it bounds what 'wsx asyncio / C "
                      "client' can reach. The future floor: the same behind `send`/`recv` coroutines, `recv` "
                      "awaiting a future per message: the least an `await ws.recv()` client can cost (the future, "
                      "and the task's wake-up on the loop's next turn).", ""]
        rep.table(["message", "protocol floor msgs/s", "floor / C client", "wsx asyncio / floor",
                   "future floor msgs/s", "wsx asyncio / future floor"],
                  [[f"{size} B", fmt(f, 0), fmt(ratio(f, c), 2), fmt(ratio(w, f), 2), fmt(ff, 0), fmt(ratio(w, ff), 2)]
                   for size, f, ff, c, w in floors])
        for size, f, ff, _, w in floors:
            rep.target(f"Python wsx asyncio / asyncio's floor, {size} B, 1 in flight", ratio(w, f), "≥ 0.9",
                       lambda v: v >= 0.9)
            rep.target(f"Python wsx asyncio / asyncio's future floor, {size} B, 1 in flight", ratio(w, ff),
                       "≥ 0.9", lambda v: v >= 0.9)
    rep.lines += [f"- {n}" for n in notes] + ([""] if notes else [])


def report_memory(rep: Report, mems: list[dict[str, Any]]) -> None:
    rep.lines += ["## Memory per idle connection (wsx server in-process, counting allocator)", ""]
    if not mems:
        rep.lines += ["failed (see stderr)", ""]
        return
    rep.table(["connections", "state", "heap / conn", "RSS / conn", "heap total", "RSS total"],
              [[str(m["conns"]), "after one 20 B echo" if m["echo_first"] else "fresh from the handshake",
                f"{m['heap_per_conn'] / 1024:,.1f} KiB", f"{m['rss_per_conn'] / 1024:,.1f} KiB",
                f"{m['heap_total'] / 2**20:,.1f} MiB", f"{m['rss_total'] / 2**20:,.1f} MiB"] for m in mems])
    for m in mems:
        state = "used once" if m["echo_first"] else "fresh"
        rep.target(f"heap KiB per idle connection ({state})", m["heap_per_conn"] / 1024, "≤ 16",
                   lambda v: v <= 16, 1)


def run_program(command: list[str], env: Optional[dict[str, str]] = None) -> Optional[str]:
    """The standard output of a measuring program (with `env` added to the
    environment), or None if it failed (its stderr goes to ours)."""
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True,
                          env={**os.environ, **(env or {})})
    return done.stdout if done.returncode == 0 else None


def report_fanout(rep: Report) -> None:
    """One publisher to 1,000 subscribers: wsx's encode-once `publish` against
    the same fan-out as a loop of sends over tokio-tungstenite (benches/fanout)."""
    rep.lines += ["## Fan-out: one publisher to 1,000 subscribers", ""]
    out = run_program([str(RELEASE / "wsx-fanout")], {"FANOUT_ROUNDS": str(ROUNDS)})
    if out is None:
        rep.lines += ["failed (see stderr)", ""]
        return
    rep.lines += ["```", out.rstrip(), "```", ""]
    ratios = [float(line.split()[-1]) for line in out.splitlines() if line.startswith("ratio")]
    if ratios:
        rep.target("fan-out wsx publish / tokio-tungstenite loop", ratios[0], "> 1", lambda v: v > 1)
        rep.chart["fan-out publish / tokio-tungstenite"] = (ratios[0], ratios[0] >= 1.0)


def report_cluster(rep: Report) -> None:
    """Cross-node fan-out through Redis: three wsx servers in a cluster against
    three Socket.IO 4 servers with @socket.io/redis-adapter, and Redis' own
    PUBLISH rate (redis-benchmark), on the same Redis (benches/cluster)."""
    rep.lines += ["## Cluster fan-out through Redis: wsx against Socket.IO 4 + redis-adapter", ""]
    out = run_program([str(RELEASE / "wsx-cluster")])
    if out is None:
        rep.lines += ["failed (see stderr)", ""]
        return
    rep.lines += ["```", out.rstrip(), "```", ""]
    # "ratio <what> <value>" lines.
    ratios = {line.rsplit(" ", 1)[0].removeprefix("ratio "): float(line.split()[-1])
              for line in out.splitlines() if line.startswith("ratio ")}
    msgs = ratios.get("messages/s wsx / socket.io")
    p99 = ratios.get("p99 latency wsx / socket.io")
    floor = ratios.get("publications/s wsx / redis-benchmark PUBLISH")
    rep.target("cluster fan-out messages/s wsx / Socket.IO redis-adapter", msgs, "≥ 3", lambda v: v >= 3)
    rep.target("cluster fan-out p99 latency wsx / Socket.IO redis-adapter", p99, "≤ 0.5", lambda v: v <= 0.5,
               3)
    rep.target("cluster publications/s wsx / redis-benchmark PUBLISH (the floor)", floor, "≤ 1, for scale",
               lambda v: v <= 1, 3)
    if msgs is not None:
        rep.chart["cluster fan-out / socket.io redis-adapter"] = (msgs, msgs >= 3)
    if p99 is not None:
        rep.chart["cluster p99 latency / socket.io (lower is better)"] = (p99, p99 <= 0.5)


def report_deflate(rep: Report) -> None:
    """permessage-deflate: per-connection memory by window size, and
    compressed against uncompressed throughput (core/examples/deflate_memory.rs)."""
    rep.lines += ["## permessage-deflate: memory per connection and throughput", ""]
    out = run_program([str(ROOT / "target" / "release" / "examples" / "deflate_memory")])
    rep.lines += ["failed (see stderr)", ""] if out is None else ["```", out.rstrip(), "```", ""]
    # "shared compressor  10000  <idle>  <after>": the server's mode for many connections.
    shared = re.search(r"^shared compressor\s+\d+\s+(-?\d+)\s+(-?\d+)$", out or "", re.M)
    idle, after = (float(shared[1]), float(shared[2])) if shared else (None, None)
    rep.target("deflate heap per idle connection, shared compressor (bytes)", idle, "≤ 16384",
               lambda v: v <= 16384, 0)
    rep.target("deflate heap per active connection, shared compressor (bytes)", after, "≤ 65536",
               lambda v: v <= 65536, 0)


# Connections at scale (benches/scale): 19,000 connections on one wsx server,
# 100,000 over several sharing a port, and the accept rate against the peers.

SCALE_ONE = int(setting("BENCH_SCALE_ONE", "19000"))
SCALE_MANY = int(setting("BENCH_SCALE_MANY", "100000"))
SCALE_SERVERS = int(setting("BENCH_SCALE_SERVERS", "6"))
# Connections per client process: under the descriptor cap (20,000 here).
SCALE_PER_CLIENT = 12500
# Handshakes in flight in the accept-rate client.
SCALE_DIALERS = 32


class ScaleProc:
    """A process of the scale part spoken to line by line: its stdout is read
    by a thread, so every wait has a timeout."""

    def __init__(self, cmd: list[str], cpu: str) -> None:
        import queue
        import threading

        self.name = Path(cmd[0]).name
        self.proc = subprocess.Popen(pinned(cpu, cmd), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def pump() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.put(line.strip())
            self.lines.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def line(self, timeout: float) -> str:
        import queue

        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.name} said nothing in {timeout:g} s") from None
        if line is None:
            raise RuntimeError(f"{self.name} ended (exit status {self.proc.wait()})")
        return line

    def ask(self, command: str, timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self.line(timeout))
        return answer

    def stop(self) -> None:
        """The end of stdin (clients reset their connections, leaving no
        TIME_WAIT; servers exit), then a kill if that is not enough."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"  {self.name} (pid {self.proc.pid}) did not end in 30 s: killed", file=sys.stderr)
            self.proc.kill()
            self.proc.wait()


class ScaleProcs:
    """Every process one measurement starts, stopped (clients first) however
    it ends."""

    def __init__(self) -> None:
        self.procs: list[ScaleProc] = []

    def start(self, cmd: list[str], cpu: str) -> ScaleProc:
        proc = ScaleProc(cmd, cpu)
        self.procs.append(proc)
        return proc

    def __enter__(self) -> "ScaleProcs":
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def scale_hold(total: int, servers: int) -> dict[str, Any]:
    """`total` connections to `servers` wsx servers on one port (with
    SO_REUSEPORT when more than one), from client processes of at most
    SCALE_PER_CLIENT connections, each from its own 127.0.0.x; then one ping
    on every connection."""
    import time

    with ScaleProcs() as procs:
        server_cmd = [str(RELEASE / "scale_server"), "--max-connections", "19500"]
        if servers > 1:
            server_cmd.append("--reuse-port")
        first = procs.start([*server_cmd, "--port", "0"], SERVER_CPU)
        addr = first.line(10).split()[2]
        port = addr.rsplit(":", 1)[1]
        rest = [procs.start([*server_cmd, "--port", port], SERVER_CPU) for _ in range(servers - 1)]
        for server in rest:
            server.line(10)
        srv = [first, *rest]
        before = [s.ask("measure", 10) for s in srv]
        n_clients = -(-total // SCALE_PER_CLIENT)
        shares = [total // n_clients + (1 if i < total % n_clients else 0) for i in range(n_clients)]
        started = time.monotonic()
        clients = [procs.start([str(RELEASE / "scale_client"), "--target", addr, "--source",
                                f"127.0.0.{2 + i}", "--hold", str(n)], CLIENT_CPU)
                   for i, n in enumerate(shares)]
        ready = [json.loads(c.line(300)) for c in clients]
        open_secs = time.monotonic() - started
        opened = sum(r["open"] for r in ready)
        # The servers count a connection at its open event, a moment after
        # the client saw the 101.
        deadline = time.monotonic() + 10
        after = [s.ask("measure", 10) for s in srv]
        while sum(a["open"] for a in after) < opened and time.monotonic() < deadline:
            time.sleep(0.2)
            after = [s.ask("measure", 10) for s in srv]
        pongs = [c.ask("ping", 60) for c in clients]
        return {
            "total": total, "servers": servers, "clients": n_clients, "open_secs": open_secs,
            "opened": opened, "failed": sum(r["failed"] for r in ready),
            "per_server": [a["open"] for a in after],
            "heap_delta": [a["heap"] - b["heap"] for a, b in zip(after, before)],
            "rss_delta": [a["rss"] - b["rss"] for a, b in zip(after, before)],
            "pinged": sum(p["pinged"] for p in pongs), "answered": sum(p["answered"] for p in pongs),
        }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def accept_rates() -> dict[str, list[dict[str, Any]]]:
    """Handshakes completed per second by SCALE_DIALERS concurrent dialers
    against each echo server of the grid, pinned as the grid pins them,
    rounds interleaved; each connection is reset once its 101 arrived."""
    names = [n for n in (WSX, FASTWS, TUNG) if Path(SERVERS[n][0][0]).exists()]
    results: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for r in range(ROUNDS):
        for name in names[r % len(names):] + names[:r % len(names)]:
            with Server(SERVERS[name][0]) as server:
                cpu0 = cpu_seconds(server.proc.pid)
                cmd = [str(RELEASE / "scale_client"), "--target", server.addr, "--rate",
                       "--source", ",".join(f"127.0.0.{i}" for i in range(2, 10)),
                       "--window", str(SCALE_DIALERS), "--warmup", str(WARMUP), "--duration", str(DURATION)]
                out = subprocess.run(pinned(CLIENT_CPU, cmd), capture_output=True, text=True,
                                     timeout=WARMUP + DURATION + 60)
                cpu = cpu_seconds(server.proc.pid) - cpu0
            if out.returncode != 0:
                print(f"  accept rate {name}: {out.stderr.strip()}", file=sys.stderr)
                continue
            got: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
            got["per_cpu_s"] = got["total"] / cpu if cpu > 0 else None
            results[name].append(got)
            print(f"  round {r + 1} accept rate {name:18} {got['per_s']:>10,.0f}/s "
                  f"({got['failed']} failed)", file=sys.stderr)
    return results


def memory_available() -> Optional[int]:
    """MemAvailable from /proc/meminfo, in bytes (None where there is none)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def run_scale() -> dict[str, Any]:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    out: dict[str, Any] = {"fd_limit": hard}
    for key, total, servers in (("one", SCALE_ONE, 1), ("many", SCALE_MANY, SCALE_SERVERS)):
        # Two sockets a connection in the kernel, the server's heap, the
        # clients': 16 KiB a connection leaves room to spare.
        available = memory_available()
        if available is not None and available < total * 16384:
            print(f"  scale {key}: skipped: {available >> 20} MiB available, {total:,} connections "
                  f"want {total * 16384 >> 20} MiB", file=sys.stderr)
            continue
        try:
            out[key] = scale_hold(total, servers)
        except (RuntimeError, OSError, ValueError, KeyError) as e:
            print(f"  scale {key}: {e}", file=sys.stderr)
    out["rates"] = accept_rates()
    return out


def report_scale(rep: Report, res: dict[str, Any]) -> None:
    rep.lines += ["## Connections at scale", "",
                  f"Each process may hold {res['fd_limit']:,} descriptors. wsx server processes "
                  "(`benches/scale`, release, counting allocator; on CPU "
                  f"{SERVER_CPU}) hold connections from client processes (CPU {CLIENT_CPU}) of at most "
                  f"{SCALE_PER_CLIENT:,} connections, each from its own 127.0.0.x source address; heap is "
                  "the growth from before the first connection to all of them idle; then every connection "
                  "is pinged once.", ""]
    rows = []
    for key in ("one", "many"):
        m = res.get(key)
        if m is None:
            rows.append(["failed (see stderr)"] + ["—"] * 7)
            continue
        heap = sum(m["heap_delta"]) / m["opened"] if m["opened"] else None
        rss = sum(m["rss_delta"]) / m["opened"] if m["opened"] else None
        rows.append([f"{m['total']:,}", str(m["servers"]), f"{m['opened']:,} ({m['failed']} failed)",
                     f"{m['open_secs']:.1f} s", " / ".join(f"{n:,}" for n in m["per_server"]),
                     f"{fmt(heap, 0)} B", f"{fmt(rss, 0)} B", f"{m['answered']:,} of {m['pinged']:,}"])
    rep.table(["connections", "servers", "opened", "opening took", "per server", "heap / conn",
               "RSS / conn", "pings answered"], rows)
    one, many = res.get("one"), res.get("many")
    if one is not None and one["opened"]:
        rep.target(f"heap bytes per idle connection, {SCALE_ONE:,} on one server",
                   one["heap_delta"][0] / one["opened"], "≤ 2048", lambda v: v <= 2048, 0,
                   aside=f"; RSS {one['rss_delta'][0] / one['opened']:,.0f} B per connection")
    rep.target("connections answering a ping, one server", None if one is None else one["answered"],
               f"{SCALE_ONE:,} of {SCALE_ONE:,}", lambda v: v == SCALE_ONE, 0)
    rep.target(f"connections held and answering a ping, {SCALE_SERVERS} servers on one port (SO_REUSEPORT)",
               None if many is None else many["answered"], f"{SCALE_MANY:,} of {SCALE_MANY:,}",
               lambda v: v == SCALE_MANY, 0,
               aside="" if many is None else "; per server " + " / ".join(f"{n:,}" for n in many["per_server"]))

    rates = res["rates"]
    rep.lines += [f"Accept rate: handshakes completed per second (TCP connect + WebSocket handshake, from "
                  f"the client's view) with {SCALE_DIALERS} concurrent dialers, each connection reset once "
                  f"its 101 arrived; server on CPU {SERVER_CPU}, client on CPU {CLIENT_CPU}; medians of "
                  f"{ROUNDS} interleaved rounds of {WARMUP:g} s warm-up + {DURATION:g} s measured. Per server "
                  "CPU-second counts every handshake of the run.", ""]
    rep.table(["server", "handshakes/s", "per server CPU-second", "failed", "rounds"],
              [[name, fmt(median(runs, "per_s"), 0), fmt(median(runs, "per_cpu_s"), 0),
                str(sum(r["failed"] for r in runs)), str(len(runs))] for name, runs in rates.items()])
    for peer in (FASTWS, TUNG):
        value = ratio(median(rates.get(WSX, []), "per_s"), median(rates.get(peer, []), "per_s"))
        per_cpu = ratio(median(rates.get(WSX, []), "per_cpu_s"), median(rates.get(peer, []), "per_cpu_s"))
        rep.target(f"accept rate wsx / {peer}", value, "≥ 1", lambda v: v >= 1,
                   aside=f"; per server CPU-second {fmt(per_cpu, 2)}")
        if value is not None:
            rep.chart[f"accept rate: wsx / {peer}"] = (value, value >= 1)


def chart(rep: Report, path: Path) -> Optional[str]:
    """A bar chart of the ratios (PNG), if matplotlib is at hand."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "chart skipped: matplotlib is not installed"
    if not rep.chart:
        return "chart skipped: no ratios"
    labels = list(rep.chart)
    values = [rep.chart[k][0] for k in labels]
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(labels) + 1.2))
    colors = ["#888" if good is None else "#2a7" if good else "#c53" for _, good in rep.chart.values()]
    ax.barh(labels, values, color=colors)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.invert_yaxis()
    ax.set_xlabel("ratio (latency: lower is better; everything else: higher is better); grey: a peer")
    ax.set_title("wsx speed ratios, one run, same machine")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def main() -> int:
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = [
        "# wsx benchmark results", "",
        f"- date: {started}", f"- commit: {commit()}", f"- machine: {machine()}",
        f"- settings: warm-up {WARMUP:g} s, measured {DURATION:g} s, {ROUNDS} rounds, parts {','.join(PARTS)}",
        "- only ratios measured in this one run count; absolute figures vary with the machine's load", "",
    ]
    rep = Report()
    if "grid" in PARTS:
        report_grid(rep, run_grid())
    if "micro" in PARTS:
        report_micro(rep, run_micro())
    if "bindings" in PARTS:
        report_bindings(rep, *run_bindings())
    if "memory" in PARTS:
        report_memory(rep, run_memory())
    if "fanout" in PARTS:
        report_fanout(rep)
    if "deflate" in PARTS:
        report_deflate(rep)
    if "cluster" in PARTS:
        report_cluster(rep)
    if "loops" in PARTS:
        report_loops(rep, run_loops())
    if "scale" in PARTS:
        report_scale(rep, run_scale())

    targets = ["## Targets", ""]
    targets += ["| target | measured | holds |", "|---|---|---|"]
    targets += [f"| {what} | {value} | {'yes' if held else 'no' if held is not None else '—'} |"
                for what, value, held in rep.targets]
    targets.append("")
    note = chart(rep, BENCHES / "results.png")
    chart_line = [note if note else "![ratios](results.png)", ""]
    text = "\n".join(head + targets + chart_line + rep.lines)
    (BENCHES / "RESULTS.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
