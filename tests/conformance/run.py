#!/usr/bin/env python3
"""Runs the Autobahn TestSuite (wstest) against wsx in each role and binding,
on 127.0.0.1, then reads wstest's index.json and checks every result.

    run.py [--quick] --out DIR [paths...] ROLE [ROLE...]

Server roles (wstest in fuzzingclient mode connects to them):
    c-server                the C example echo_server, compression off
    c-server-deflate        the same with --compress
    c-sansio-server         examples/c/sansio_echo_server (bring your own I/O), compression off
    c-sansio-server-deflate the same with --compress
    python-asyncio-server   the Python binding's asyncio server (py_echo.py)
Client roles (wstest in fuzzingserver mode; the client runs every case):
    c-client                the C example echo_client, one process per case
    c-sansio-client         examples/c/sansio_echo_client, one process per case
    python-asyncio-client   the Python binding, asyncio API (py_echo.py)
    python-sync-client      the Python binding, blocking API (py_echo.py)
    csharp-client           the C# binding (AutobahnClient.exe under mono)

--quick runs cases 1-7 and 10 (framing, pings, reserved bits, opcodes,
fragmentation, UTF-8, close handling, misc) instead of all 517; --exclude
leaves case patterns out (the summary then counts fewer cases).

A result passes when it is OK or INFORMATIONAL (both the behaviour and the
close behaviour), when it is UNIMPLEMENTED in 12.x/13.x for a role without
compression, or when allowed.txt lists it. The summary table goes to stdout
and to DIR/summary.md; the HTML reports to DIR/<role>/. Exits 1 if any
result does not pass.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK_CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*"]
SERVER_ROLES = {"c-server", "c-server-deflate", "c-sansio-server", "c-sansio-server-deflate",
                "python-asyncio-server"}
CLIENT_ROLES = {"c-client", "c-sansio-client", "python-asyncio-client", "python-sync-client",
                "csharp-client"}
# The C examples of each role: the event loop's, and bring your own I/O's
# (examples/c/sansio_echo_*.c: their own sockets and poll loop over the engine).
C_PROGRAMS = {"c-server": "echo_server", "c-server-deflate": "echo_server",
              "c-sansio-server": "sansio_echo_server", "c-sansio-server-deflate": "sansio_echo_server",
              "c-client": "echo_client", "c-sansio-client": "sansio_echo_client"}
# Roles that run without permessage-deflate by choice: 12.x/13.x may be
# UNIMPLEMENTED there.
NO_COMPRESSION = {"c-server", "c-sansio-server"}
PASSING = {"OK", "INFORMATIONAL"}
ORDER = ["OK", "INFORMATIONAL", "NON-STRICT", "UNIMPLEMENTED", "WRONG CODE", "UNCLEAN", "FAILED"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"conformance: {proc.args[0]} exited with {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"conformance: nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop(proc: subprocess.Popen) -> None:
    """Stops a process this script started, by its own pid."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Runner:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.out = Path(args.out).resolve()
        self.cases = QUICK_CASES if args.quick else ["*"]
        self.exclude = [c for c in args.exclude.split(",") if c]

    def wstest(self, mode: str, spec: dict, spec_path: Path) -> list[str]:
        spec_path.write_text(json.dumps(spec, indent=2))
        return [self.args.python27, str(HERE / "wstest_local.py"), "-m", mode, "-s", str(spec_path), "-u", "0"]

    def server_command(self, role: str, port: int) -> list[str]:
        if role in C_PROGRAMS:
            cmd = [str(Path(self.args.examples) / C_PROGRAMS[role])]
            # The bring-your-own-I/O server listens on 127.0.0.1 only.
            cmd += ["--port", str(port)] if "sansio" in role else ["--host", "127.0.0.1", "--port", str(port)]
            return cmd + (["--compress"] if role.endswith("-deflate") else [])
        return [self.args.python, str(HERE / "py_echo.py"), "server", "--port", str(port)]

    def client_command(self, role: str, base: str, agent: str) -> list[str]:
        if role == "csharp-client":
            return [self.args.mono, "--debug", self.args.csharp_exe, base, agent]
        api = "--asyncio" if role == "python-asyncio-client" else "--sync"
        return [self.args.python, str(HERE / "py_echo.py"), "client", api, base, agent]

    def run_server_role(self, role: str, outdir: Path, log) -> None:
        port = free_port()
        server = subprocess.Popen(self.server_command(role, port), stdout=log, stderr=log)
        try:
            wait_port(port, server)
            spec = {
                "outdir": str(outdir),
                "servers": [{"agent": f"wsx-{role}", "url": f"ws://127.0.0.1:{port}"}],
                "cases": self.cases,
                "exclude-cases": self.exclude,
                "exclude-agent-cases": {},
            }
            cmd = self.wstest("fuzzingclient", spec, outdir / "spec.json")
            subprocess.run(cmd, stdout=log, stderr=log, check=True, timeout=self.args.timeout)
        finally:
            stop(server)

    def run_client_role(self, role: str, outdir: Path, log) -> None:
        port = free_port()
        base = f"ws://127.0.0.1:{port}"
        agent = f"wsx-{role}"
        spec = {
            "url": base,
            "outdir": str(outdir),
            "cases": self.cases,
            "exclude-cases": self.exclude,
            "exclude-agent-cases": {},
        }
        cmd = self.wstest("fuzzingserver", spec, outdir / "spec.json")
        wstest = subprocess.Popen(cmd, stdout=log, stderr=log)
        try:
            wait_port(port, wstest)
            env = dict(os.environ)
            if self.args.lib_dir:
                env["LD_LIBRARY_PATH"] = self.args.lib_dir
            if role in C_PROGRAMS:
                self.c_client(C_PROGRAMS[role], base, agent, log)
            else:
                subprocess.run(
                    self.client_command(role, base, agent), stdout=log, stderr=log, env=env,
                    check=True, timeout=self.args.timeout,
                )
        finally:
            stop(wstest)

    def c_client(self, program: str, base: str, agent: str, log) -> None:
        """A C example client, one process per case, as a user would run it."""
        client = str(Path(self.args.examples) / program)
        count = int(getcasecount(f"{base}/getCaseCount"))
        for case in range(1, count + 1):
            url = f"{base}/runCase?case={case}&agent={urllib.parse.quote(agent)}"
            try:
                subprocess.run([client, url], stdout=log, stderr=log, timeout=300)
            except subprocess.TimeoutExpired:
                print(f"conformance: case {case} timed out", file=log, flush=True)
        subprocess.run([client, f"{base}/updateReports?agent={urllib.parse.quote(agent)}"],
                       stdout=log, stderr=log, timeout=120)

    def run(self, role: str) -> dict:
        outdir = self.out / role
        outdir.mkdir(parents=True, exist_ok=True)
        index = outdir / "index.json"
        if index.exists():
            index.unlink()
        started = time.monotonic()
        with open(outdir / "run.log", "w") as log:
            if role in SERVER_ROLES:
                self.run_server_role(role, outdir, log)
            elif role in CLIENT_ROLES:
                self.run_client_role(role, outdir, log)
            else:
                raise SystemExit(f"conformance: unknown role {role}")
        seconds = time.monotonic() - started
        if not index.exists():
            raise SystemExit(f"conformance: {role}: wstest wrote no {index} (see {outdir / 'run.log'})")
        results = json.loads(index.read_text())
        (agent_results,) = results.values()
        return {"role": role, "seconds": seconds, "results": agent_results}


def getcasecount(url: str) -> str:
    """A minimal RFC 6455 client for wstest's getCaseCount: one text message
    in one unfragmented frame. Kept apart from wsx so a broken wsx cannot
    hide cases."""
    parsed = urllib.parse.urlsplit(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=30) as s:
        request = (
            f"GET {parsed.path}?{parsed.query} HTTP/1.1\r\nHost: {parsed.netloc}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        s.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit("conformance: wstest closed during getCaseCount")
            data += chunk
        frame = data.split(b"\r\n\r\n", 1)[1]
        while len(frame) < 2 or len(frame) < 2 + (frame[1] & 0x7F):
            frame += s.recv(4096)
        return frame[2 : 2 + (frame[1] & 0x7F)].decode()


def load_allowed(path: Path) -> dict:
    allowed = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            role, case, behaviour = line.split(None, 2)
            allowed[(role, case)] = behaviour
    return allowed


def case_key(case: str) -> tuple:
    return tuple(int(p) for p in case.split("."))


def check(run: dict, allowed: dict) -> tuple[collections.Counter, list[str], list[str]]:
    """Counts behaviours; returns the counts, the failures and the allowed
    exceptions, each as 'case BEHAVIOUR/CLOSE'."""
    role = run["role"]
    counts: collections.Counter = collections.Counter()
    failures, excused = [], []
    for case in sorted(run["results"], key=case_key):
        r = run["results"][case]
        behaviour, close = r["behavior"], r["behaviorClose"]
        counts[behaviour] += 1
        text = f"{case} {behaviour}/{close}"
        if behaviour in PASSING and close in PASSING:
            continue
        if behaviour == "UNIMPLEMENTED" and role in NO_COMPRESSION and case.split(".")[0] in ("12", "13"):
            continue
        if allowed.get((role, case)) == behaviour:
            excused.append(text)
            continue
        failures.append(text)
    return counts, failures, excused


def table(runs: list[dict], allowed: dict) -> str:
    columns = [b for b in ORDER if any(check(r, allowed)[0][b] for r in runs)] or ["OK"]
    lines = [
        "| role | cases | " + " | ".join(columns) + " | time |",
        "|---|---|" + "---|" * len(columns) + "---|",
    ]
    for r in runs:
        counts = check(r, allowed)[0]
        cells = [str(counts[b]) for b in columns]
        lines.append(f"| {r['role']} | {len(r['results'])} | " + " | ".join(cells) + f" | {r['seconds']:.0f} s |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="cases 1-7 and 10 only")
    parser.add_argument("--out", required=True, help="folder for the reports")
    parser.add_argument("--python27", default=str(HERE.parents[1] / ".autobahn/venv/bin/python"))
    parser.add_argument("--python", default=sys.executable, help="Python with the wsx module")
    parser.add_argument("--examples", help="folder of the C examples (echo_server, echo_client)")
    parser.add_argument("--mono", default="mono")
    parser.add_argument("--csharp-exe", help="AutobahnClient.exe")
    parser.add_argument("--lib-dir", help="folder of libwsx.so for the C# client")
    parser.add_argument("--exclude", default="", help="case patterns to leave out, comma-separated (e.g. 12.*,13.*)")
    parser.add_argument("--timeout", type=float, default=7200, help="seconds per role")
    parser.add_argument("--check-only", action="store_true", help="read the reports already in --out")
    parser.add_argument("roles", nargs="+")
    args = parser.parse_args()
    allowed = load_allowed(HERE / "allowed.txt")
    runner = Runner(args)
    runs = []
    for role in args.roles:
        if args.check_only:
            (results,) = json.loads((runner.out / role / "index.json").read_text()).values()
            run = {"role": role, "seconds": 0.0, "results": results}
        else:
            print(f"conformance: {role} ({'quick set' if args.quick else 'all cases'})", flush=True)
            run = runner.run(role)
        runs.append(run)
        counts, failures, excused = check(run, allowed)
        summary = ", ".join(f"{counts[b]} {b}" for b in ORDER if counts[b])
        print(f"conformance: {role}: {len(run['results'])} cases in {run['seconds']:.0f} s: {summary}", flush=True)
        for text in excused:
            print(f"  allowed: {text}")
        for text in failures:
            print(f"  NOT OK:  {text}")
    summary = table(runs, allowed)
    print(summary)
    (runner.out / "summary.md").write_text(summary + "\n")
    bad = sum(len(check(r, allowed)[1]) for r in runs)
    if bad:
        print(f"conformance: {bad} results not OK (reports: {runner.out}/<role>/index.html)")
        return 1
    print(f"conformance: every result passes (reports: {runner.out}/<role>/index.html)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
