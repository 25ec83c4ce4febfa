"""The parity suite's orchestrator (issue 16).

Starts the servers (servers/py_server.py: python-websockets; the core's
server through each language's server API: servers/wsx_server.py, the Python
binding; servers/wsx_server.c, the C ABI; servers/ParityServer.cs, the C#
binding) on free loopback ports, runs every runner against every server
PAIRS pairs it with (--all-pairs: every server), kills a runner that
overruns, and prints the language x server table.
Exit status 0 only when every runner ran every scenario meant for it and
none failed.

Runners: python-sync, python-asyncio (runner_py.py, reads scenarios.json),
c (runner_c, built by mk/parity.mk) and csharp (ParityRunner.exe), which read
the flat form of scenarios.json that this script writes (FORMAT.md). Each
language's second client API, the sans-I/O engine over the runner's own
socket, is a run of its own: c-engine (runner_c --api engine),
python-protocol (runner_py.py --api protocol: wsx.protocol) and
csharp-stream (ParityRunner.exe --api stream: WsxWebSocket.CreateFromStream).
The engine runs have servers of their own (a second py and wsx server), so
they run beside the loop runs and never meet their restarts and drains.

    python tests/parity/run.py --python .venv/bin/python \
        [--c-runner build/parity/runner_c] [--csharp-runner build/parity/ParityRunner.exe \
         --mono mono --lib-dir target/debug] [--c-server build/parity/wsx_server] \
        [--csharp-server build/csharp/ParityServer.exe] [--all-pairs] \
        [--langs python-sync,c] [--servers py] [--only id,id]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "scenarios.json")
LANGS = ["python-sync", "python-asyncio", "c", "csharp", "c-engine", "python-protocol", "csharp-stream"]
# The runs through each language's sans-I/O engine (bring your own I/O).
ENGINE_LANGS = {"c-engine", "python-protocol", "csharp-stream"}
# The keys of a run in scenarios.json's cannot_express, the first found
# giving the reason: its language, or its API, or "engine" (every engine API).
EXPRESS_KEYS = {"python-sync": ["python"], "python-asyncio": ["python"], "c": ["c"], "csharp": ["csharp"],
                "c-engine": ["c-engine", "engine"], "python-protocol": ["python-protocol", "engine"],
                "csharp-stream": ["csharp-stream", "engine"]}
# The servers: python-websockets (py, the reference peer) and the core's
# server through each language's server API: wsx (the Python binding,
# wsx.sync.serve), c (the C ABI, servers/wsx_server.c) and cs (the C#
# binding, servers/ParityServer.cs). All serve the same endpoints and paths.
SERVERS = ["py", "wsx", "c", "cs"]
# The name a server goes by in scenarios.json's "servers" lists: a scenario
# or check for "wsx" is the core's server's, whichever language serves it.
PLAYS = {"py": "py", "wsx": "wsx", "c": "wsx", "cs": "wsx"}
# Which runs go against which server (--all-pairs: every run against every
# server). The C and C# servers meet two client implementations, the C loop
# and the Python sync API: that shows their server role without running
# every client again (CI time); the Python servers meet every run.
PAIRS = {
    "py": LANGS,
    "wsx": LANGS,
    "c": ["c", "python-sync"],
    "cs": ["c", "python-sync"],
}
RUNNER_LIMIT = 150.0  # seconds; a runner over it is killed and fails
# Endpoints served over TLS (mutual TLS: wss:// with a client certificate required).
TLS_ENDPOINTS = {"mtls"}
# Endpoints listening elsewhere than 127.0.0.1 (URL host form).
ENDPOINT_HOSTS = {"ipv6": "[::1]"}


def make_certs(d: str) -> None:
    """The test PKI of the mtls endpoint (openssl CLI, RSA 2048: Mono's
    SslStream, which the csharp-stream run uses, reads no EC certificate):
    ca.pem signs the servers' certificate (server.pem/.key, for 127.0.0.1 and
    localhost); client-ca.pem signs alice's (alice.pem/.key, and alice.p12
    for C#; subject O=wsx, CN=alice).
    Paths reach the servers as WSX_PARITY_TLS and the scenarios as {tls}."""
    os.makedirs(d, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    # The four keys at once (RSA key generation is the slow part).
    keys = [subprocess.Popen(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                              "-out", f"{who}.key"], cwd=d, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for who in ("ca", "client-ca", "server", "alice")]
    if any(k.wait() != 0 for k in keys):
        raise SystemExit("parity: openssl genpkey failed")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("[server]\nbasicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "extendedKeyUsage=serverAuth\n[client]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    for ca, cn in (("ca", "wsx-parity-CA"), ("client-ca", "wsx-parity-client-CA")):
        openssl("req", "-x509", "-key", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2", "-subj", f"/CN={cn}",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for who, subject, ca, ext in (("server", "/CN=localhost", "ca", "server"), ("alice", "/O=wsx/CN=alice", "client-ca", "client")):
        openssl("req", "-new", "-key", f"{who}.key", "-out", f"{who}.csr", "-subj", subject)
        openssl("x509", "-req", "-in", f"{who}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
                "-out", f"{who}.pem", "-days", "2", "-extfile", "ext.cnf", "-extensions", ext)
    # alice as PKCS#12 (no password; ciphers Mono reads) for C#'s SslStream, which reads no PEM key.
    openssl("pkcs12", "-export", "-in", "alice.pem", "-inkey", "alice.key", "-out", "alice.p12", "-passout", "pass:",
            "-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1")


class BlackHole:
    """An address on ::1 whose connects hang, as on a dead IPv6 route (a
    listener that never accepts, its queue full: SYNs past it are dropped),
    for the Happy Eyeballs scenario ({blackhole6} in option values)."""

    def __init__(self) -> None:
        import socket

        self.listener = socket.socket(socket.AF_INET6)
        self.listener.bind(("::1", 0))
        self.listener.listen(0)
        port = self.listener.getsockname()[1]
        self.held = []
        while len(self.held) < 8:
            s = socket.socket(socket.AF_INET6)
            self.held.append(s)
            s.settimeout(0.3)
            try:
                s.connect(("::1", port))
            except TimeoutError:
                break  # unanswered: the queue is full
        else:
            raise SystemExit("parity: the black hole's accept queue never filled")
        self.address = f"[::1]:{port}"

    def close(self) -> None:
        for s in self.held:
            s.close()
        self.listener.close()


def substitute(value, subst: dict):
    """An option value or URL (or list of them) with {tls} (the directory of
    make_certs), {blackhole6} (BlackHole's address) and {unix} (the server's
    Unix domain socket, in flatten) replaced."""
    if isinstance(value, list):
        return [substitute(v, subst) for v in value]
    if isinstance(value, str):
        for key, text in subst.items():
            value = value.replace("{" + key + "}", text)
    return value


def with_host(url: str, host) -> str:
    """A scenario's URL with its host replaced by the scenario's "host" (a
    name the client's resolver answers), if it has one."""
    return url if host is None else url.replace("//127.0.0.1:", f"//{host}:", 1)


# ------------------------------------------------------------ flat format


def enc(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    return quote(str(value), safe="")


def line(keyword: str, **fields) -> str:
    return " ".join([keyword] + [f"{k}={enc(v)}" for k, v in fields.items() if v is not None])


def serves(entry: dict, server: str) -> bool:
    """Whether a scenario or server check (its "servers") is for this server."""
    return server in entry["servers"] or PLAYS[server] in entry["servers"]


def lacks(scenario: dict, server: str, endpoints: dict) -> str | None:
    """What a server lacks for a scenario, if anything: the scenario's
    endpoint (one the other servers gained first)."""
    if scenario["endpoint"] not in endpoints:
        return f"the {server} server has no {scenario['endpoint']} endpoint"
    return None


def cannot_express(scenario: dict, keys: list) -> str | None:
    """Why a run with these cannot_express keys skips the scenario, if it does."""
    why = scenario.get("cannot_express", {})
    return next((why[k] for k in keys if k in why), None)


def flatten(doc: dict, server: str, endpoints: dict, keys: list, subst: dict) -> str:
    """scenarios.json for one server and one run (its cannot_express keys), as FORMAT.md says."""
    out = [line("defaults", timeout=doc["defaults"]["timeout"])]
    for s in doc["scenarios"]:
        if not serves(s, server) or lacks(s, server, endpoints):
            continue
        url = substitute(s.get("url") or with_host(endpoints[s["endpoint"]] + s["path"], s.get("host")), subst)
        out.append(line("scenario", id=s["id"], url=url, side_base=endpoints[s["endpoint"]]))
        why = cannot_express(s, keys)
        if why:
            out.append(line("skip", reason=why))
        for key, value in s.get("options", {}).items():
            if key == "subprotocols":
                out += [line("option", subprotocol=p) for p in value]
            elif key == "headers":
                out += [line("option", header_name=n, header_value=v) for n, v in value]
            elif key == "reconnect":
                out.append(line("option", reconnect=1, **value))
            elif key == "client_cert":
                cert, key_file = substitute(value, subst)
                out.append(line("option", client_cert=cert, client_key=key_file))
            elif key == "resolve":
                out.append(line("option", resolve=",".join(substitute(value, subst))))
            else:
                out.append(line("option", **{key: substitute(value, subst)}))
        o = s.get("outcome")
        if o:
            header = o.get("header", [None, None])
            out.append(line("outcome", error=o["error"], status=o.get("status"),
                            header_name=header[0], header_value=header[1]))
        for step in s["steps"]:
            (op, arg), = step.items()
            if op in ("expect_subprotocol", "expect_deflate"):
                out.append(line("step", op=op, value=arg))
            elif op == "side":
                out.append(line("step", op=op, path=arg["path"], expect_text=arg["expect_text"]))
            elif op == "send_fragments":
                # Every piece as hex (text as its UTF-8), comma-separated: one may be empty.
                pieces = arg.get("pieces_hex") or [p.encode().hex() for p in arg["pieces"]]
                out.append(line("step", op=op, type=arg["type"], pieces=",".join(pieces)))
            else:
                out.append(line("step", op=op, **arg))
        out.append("end")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- servers


def server_command(name: str, args) -> list[str]:
    if name == "c":
        return [args.c_server]
    if name == "cs":
        return [args.mono, "--debug", args.csharp_server]
    return [args.python, os.path.join(HERE, "servers", f"{name}_server.py")]


class Server:
    """A server process; started at once, its endpoints known after ready()."""

    def __init__(self, name: str, args, env: dict, group: str = "loop") -> None:
        self.name = name
        self.group = group  # loop or engine: the runs it serves
        self.proc = subprocess.Popen(
            server_command(name, args),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env,
        )
        self.endpoints: dict = {}
        self.unix = env["WSX_PARITY_UNIX"]
        # Read all along (a full pipe would stop the server) and shown when
        # the server ends early or a run against it fails.
        self.stderr: list[str] = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        self.early_exit: int | None = None

    def ready(self) -> None:
        """Waits for the line of ports the server prints once it listens."""
        ports: list = []
        reader = threading.Thread(target=lambda: ports.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(30)
        if not ports or not ports[0].strip():
            self.stop()
            raise SystemExit(f"parity: the {self.name} server did not start:\n{''.join(self.stderr)}")
        self.endpoints = {k: f"{'wss' if k in TLS_ENDPOINTS else 'ws'}://{ENDPOINT_HOSTS.get(k, '127.0.0.1')}:{p}"
                          for k, p in json.loads(ports[0]).items()}

    def stop(self, deadline: float | None = None) -> None:
        """Closes its stdin (the server's signal to end) and waits until
        `deadline` (monotonic; default 5 s from now), then kills it."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(max(0.0, (deadline or time.monotonic() + 5) - time.monotonic()))
            except (subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait()


def complete(response: bytes) -> bool:
    """Whether a response's head and its Content-Length bytes of body are in
    (a 101's head is all of it: WebSocket frames follow)."""
    head, sep, body = response.partition(b"\r\n\r\n")
    if not sep:
        return False
    if head.startswith(b"HTTP/1.1 101 "):
        return True
    for field in head.split(b"\r\n")[1:]:
        name, _, value = field.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip() or 0)
    return False  # no length: read until the server closes


def request_bytes(check: dict) -> bytes:
    """A check's request, {pad:N} replaced by N letters (a long target or header)."""
    return re.sub(r"\{pad:(\d+)\}", lambda m: "a" * int(m.group(1)), check["request"]).encode()


def response_header(head: bytes, name: str) -> str | None:
    """The value of a response's header `name` (case-insensitive), if it has one."""
    for field in head.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        key, _, value = field.partition(b":")
        if key.strip().lower() == name.lower().encode():
            return value.strip().decode(errors="replace")
    return None


def check_socket(check: dict, raw, tls_dir: str):
    """A server check's connection: the TCP socket, or on a TLS endpoint TLS
    over it as alice (the client certificate the mtls endpoint asks for),
    offering the check's `alpn_offer` protocols."""
    if check["endpoint"] not in TLS_ENDPOINTS:
        return raw
    import ssl

    context = ssl.create_default_context(cafile=os.path.join(tls_dir, "ca.pem"))
    context.load_cert_chain(os.path.join(tls_dir, "alice.pem"), os.path.join(tls_dir, "alice.key"))
    if "alpn_offer" in check:
        context.set_alpn_protocols(check["alpn_offer"])
    return context.wrap_socket(raw, server_hostname="localhost")


def server_checks(doc: dict, servers: list, tls_dir: str) -> list[str]:
    """scenarios.json's server_checks: raw requests, the status expected
    (and on a TLS endpoint the ALPN protocol agreed, `expect_alpn`)."""
    import socket

    lines = []
    for check in doc.get("server_checks", []):
        for server in servers:
            if not serves(check, server.name):
                continue
            label = f"{check['id']} ({server.name} server)"
            if check["endpoint"] not in server.endpoints:
                lines.append(f"skip {label}: no {check['endpoint']} endpoint")
                continue
            port = int(server.endpoints[check["endpoint"]].rsplit(":", 1)[1])
            try:
                with check_socket(check, socket.create_connection(("127.0.0.1", port), timeout=10),
                                  tls_dir) as sock:
                    alpn = sock.selected_alpn_protocol() if hasattr(sock, "selected_alpn_protocol") else None
                    sock.sendall(request_bytes(check))
                    head = b""
                    while not complete(head):
                        chunk = sock.recv(4096)
                        if not chunk:
                            break
                        head += chunk
                status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
                body = head.split(b"\r\n\r\n", 1)[-1].decode(errors="replace") if b"\r\n\r\n" in head else None
                parts = status_line.split()
                status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            except OSError as e:
                status, status_line, alpn = None, f"error: {e}", None
            header = check.get("expect_header")
            missing = [part for part in check.get("expect_body_contains", []) if part not in (body or "")]
            if status != check["expect_status"]:
                lines.append(f"FAIL {label}: expected status {check['expect_status']} got {status_line!r}")
            elif "expect_body" in check and body != check["expect_body"]:
                lines.append(f"FAIL {label}: expected body {check['expect_body']!r} got {body!r}")
            elif missing:
                lines.append(f"FAIL {label}: expected the body to contain {missing!r} got {body!r}")
            elif "expect_alpn" in check and alpn != check["expect_alpn"]:
                lines.append(f"FAIL {label}: expected ALPN {check['expect_alpn']!r} got {alpn!r}")
            elif header and response_header(head, header[0]) != header[1]:
                lines.append(f"FAIL {label}: expected the header {header[0]}: {header[1]} got "
                             f"{response_header(head, header[0])!r}")
            else:
                lines.append(f"ok {label}")
    return lines


# ---------------------------------------------------------------- runners


def unserved(doc: dict, server: Server) -> dict[str, str]:
    """The scenarios for this server that it lacks what for (lacks()): id ->
    why, shown as a skip, never run."""
    return {s["id"]: why for s in doc["scenarios"]
            if serves(s, server.name) and (why := lacks(s, server.name, server.endpoints))}


def command(lang: str, args, server: Server, flat_path: str, only: str) -> list[str]:
    if lang.startswith("python-"):
        return [args.python, os.path.join(HERE, "runner_py.py"), "--api", lang.split("-")[1],
                "--server", PLAYS[server.name], "--endpoints", json.dumps(server.endpoints),
                "--tls-dir", args.tls_dir, "--blackhole6", args.subst["blackhole6"], "--only", only]
    only = [only] if only else []
    if lang == "c":
        return [args.c_runner, flat_path] + only
    if lang == "c-engine":
        return [args.c_runner, "--api", "engine", flat_path] + only
    if lang == "csharp":
        return [args.mono, "--debug", args.csharp_runner, flat_path] + only
    if lang == "csharp-stream":
        return [args.mono, "--debug", args.csharp_runner, "--api", "stream", flat_path] + only
    raise ValueError(lang)


def expected_ids(doc: dict, server: str, only: str) -> list[str]:
    wanted = set(filter(None, only.split(",")))
    return [s["id"] for s in doc["scenarios"] if serves(s, server) and (not wanted or s["id"] in wanted)]


def run_one(lang: str, server: Server, args, doc: dict, outdir: str, results: dict) -> None:
    flat_path = os.path.join(outdir, f"{server.name}-{lang}.flat")
    with open(flat_path, "w") as f:
        # {unix}: this server's Unix domain socket.
        f.write(flatten(doc, server.name, server.endpoints, EXPRESS_KEYS[lang], dict(args.subst, unix=server.unix)))
    skipped = unserved(doc, server)
    only = args.only
    if skipped:  # the Python runner reads scenarios.json: name the others
        only = ",".join(i for i in expected_ids(doc, server.name, args.only) if i not in skipped) or "-"
    cmd = command(lang, args, server, flat_path, only)
    env = dict(os.environ, WSX_PARITY_UNIX=server.unix)
    if args.lib_dir:
        env["LD_LIBRARY_PATH"] = args.lib_dir + os.pathsep + env.get("LD_LIBRARY_PATH", "")
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=RUNNER_LIMIT, env=env)
        out, err, rc = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = (e.stderr.decode() if isinstance(e.stderr, bytes) else (e.stderr or "")) + \
            f"\nkilled after {RUNNER_LIMIT} s"
        rc = "killed"
    except OSError as e:
        out, err, rc = "", str(e), "not started"
    lines: dict[str, str] = {}
    for text in out.splitlines():
        word, _, rest = text.partition(" ")
        if word in ("ok", "FAIL", "skip"):
            sid = rest.split(":", 1)[0].strip()
            lines[sid] = text
    for sid in expected_ids(doc, server.name, args.only):
        if sid in skipped:
            lines[sid] = f"skip {sid}: {skipped[sid]}"
        lines.setdefault(sid, f"FAIL {sid}: no result from the runner (exit {rc})")
    results[(lang, server.name)] = {
        "lines": lines, "rc": rc, "stderr": err, "seconds": time.monotonic() - start,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--c-runner")
    ap.add_argument("--csharp-runner")
    ap.add_argument("--c-server", help="the C parity server (servers/wsx_server.c, built)")
    ap.add_argument("--csharp-server", help="the C# parity server (ParityServer.exe)")
    ap.add_argument("--all-pairs", action="store_true", help="every run against every server (not PAIRS)")
    ap.add_argument("--mono", default="mono")
    ap.add_argument("--lib-dir", default="", help="where libwsx.so is (C# runner)")
    ap.add_argument("--langs", default=",".join(LANGS))
    ap.add_argument("--servers", default=",".join(SERVERS), help="default: each whose program is given")
    ap.add_argument("--only", default="")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "build", "parity"))
    ap.add_argument("--jobs", type=int, default=4, help="runners at once (at most one per server)")
    args = ap.parse_args()
    doc = json.load(open(SCENARIOS))
    langs = [x for x in args.langs.split(",") if x]
    os.makedirs(args.out, exist_ok=True)
    for lang in langs:
        if lang not in EXPRESS_KEYS:
            raise SystemExit(f"parity: no such run {lang} (runs: {', '.join(LANGS)})")
        if (lang == "c" or lang.startswith("c-")) and not args.c_runner:
            raise SystemExit(f"parity: --c-runner is needed for {lang}")
        if lang.startswith("csharp") and not args.csharp_runner:
            raise SystemExit(f"parity: --csharp-runner is needed for {lang}")

    args.tls_dir = os.path.abspath(os.path.join(args.out, "tls"))
    shutil.rmtree(args.tls_dir, ignore_errors=True)
    make_certs(args.tls_dir)
    black_hole = BlackHole()
    args.subst = {"tls": args.tls_dir, "blackhole6": black_hole.address}
    env = dict(os.environ, PYTHONUNBUFFERED="1", WSX_PARITY_TLS=args.tls_dir)
    given = {"c": args.c_server, "cs": args.csharp_server}
    names = [name for name in args.servers.split(",") if name and (name not in given or given[name])]
    for name in names:
        if name not in PLAYS:
            raise SystemExit(f"parity: no such server {name} (servers: {', '.join(SERVERS)})")

    def paired(lang: str, name: str) -> bool:
        return args.all_pairs or lang in PAIRS[name]

    def group_of(lang: str) -> str:
        return "engine" if lang in ENGINE_LANGS else "loop"

    if not any(paired(lang, name) for lang in langs for name in names):
        raise SystemExit("parity: no run is paired with these servers (see PAIRS; --all-pairs runs every pair)")
    groups = sorted({group_of(lang) for lang in langs}, reverse=True)
    # The servers' Unix domain sockets: in a short directory of their own (a
    # socket path has at most 107 bytes; the checkout's may be long).
    unix_dir = tempfile.mkdtemp(prefix="wsx-parity-")
    servers: list = []
    results: dict = {}
    try:
        for group in groups:
            for name in names:
                if any(paired(lang, name) for lang in langs if group_of(lang) == group):
                    unix = os.path.join(unix_dir, f"{name}-{group}.sock")
                    servers.append(Server(name, args, dict(env, WSX_PARITY_UNIX=unix), group))
        for server in servers:  # started together, waited for in turn
            server.ready()
        # Once per server (the first of its group that runs).
        checked: dict = {}
        for s in servers:
            checked.setdefault(s.name, s)
        checks = server_checks(doc, list(checked.values()), args.tls_dir)
        jobs = [(lang, s) for lang in langs for s in servers if s.group == group_of(lang) and paired(lang, s.name)]
        # At most `jobs` runners at once, never two against the same server
        # (the restart and drain scenarios restart a server's endpoint).
        pending = list(jobs)
        running: list = []
        while pending or running:
            running = [t for t in running if t[0].is_alive()]
            busy = {id(t[1]) for t in running}
            for job in list(pending):
                if len(running) >= args.jobs:
                    break
                if id(job[1]) in busy:
                    continue
                pending.remove(job)
                t = threading.Thread(target=run_one, args=(job[0], job[1], args, doc, args.out, results))
                t.start()
                running.append((t, job[1]))
                busy.add(id(job[1]))
            time.sleep(0.05)
        for s in servers:
            s.early_exit = s.proc.poll()
    finally:
        # All told at once, so their ends (up to 5 s: a server may wait on
        # connections a runner left) overlap.
        for s in servers:
            if s.proc.poll() is None:
                s.proc.stdin.close()
        deadline = time.monotonic() + 5
        for s in servers:
            s.stop(deadline)
        black_hole.close()
        shutil.rmtree(unix_dir, ignore_errors=True)

    failed = False
    for (lang, server), r in sorted(results.items()):
        bad = [text for text in r["lines"].values() if text.startswith("FAIL")]
        print(f"== {lang} x {server}: {len(r['lines']) - len(bad)} of {len(r['lines'])} "
              f"({r['seconds']:.1f} s, exit {r['rc']})")
        for text in r["lines"].values():
            if not text.startswith("ok"):
                print("   " + text)
        if bad or r["rc"] != 0:
            failed = True
            if r["stderr"].strip():
                print("   stderr: " + "\n   ".join(r["stderr"].strip().splitlines()[-15:]))

    for s in servers:
        ran_bad = any(r["rc"] != 0 or any(t.startswith("FAIL") for t in r["lines"].values())
                      for (_, name), r in results.items() if name == s.name)
        if s.early_exit is not None:
            failed = True
            print(f"== the {s.name} server ({s.group}) ended before the runs did (exit {s.early_exit})")
        if (ran_bad or s.early_exit is not None) and s.stderr:
            print(f"   {s.name} server stderr: " + "\n   ".join(l.rstrip() for l in s.stderr[-25:]))

    print("== server checks (raw requests from run.py)")
    for text in checks:
        print("   " + text)
        failed = failed or text.startswith("FAIL")

    # The table: scenario x (language, server).
    cols = [(lang, name) for lang in langs for name in names if paired(lang, name)]
    ids = [s["id"] for s in doc["scenarios"]]
    width = max(len(i) for i in ids)
    print()
    print(" " * width + " | " + " | ".join(f"{lang[:14]:>14}/{srv:<3}" for lang, srv in cols))
    for sid in ids:
        cells = []
        for col in cols:
            text = results.get(col, {}).get("lines", {}).get(sid)
            cells.append("-" if text is None else text.split(" ", 1)[0])
        if any(c != "-" for c in cells):
            print(f"{sid:<{width}} | " + " | ".join(f"{c:>18}" for c in cells))
    print()
    print("parity: " + ("FAILED" if failed else "passed") + f" ({len(cols)} runs)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
