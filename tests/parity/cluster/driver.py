"""The cluster parity scenario (issue 18; README.md beside it): one wsx
server per language (node_c, node_py.py, ClusterNode.exe) in one cluster on
a redis-server of this run, python-websockets clients on each, and the same
checks for every node: fan-out exactly once and in order, one broker
subscription per topic, Redis SIGKILLed while publishing then restarted (the
same state events everywhere, local delivery throughout, re-subscription,
gaps for what was lost), nodes restarting (a new epoch), and a Redis
unreachable at start. Two runs side by side: classic pub/sub over redis://,
sharded pub/sub over rediss:// (a private CA).

    python driver.py --python .venv/bin/python --c-node build/parity/cluster_node_c \\
        --csharp-node build/csharp/ClusterNode.exe [--mono mono] [--out build/parity] \\
        [--langs c,python-sync] [--only cluster]

It takes run.py's flags (PARITY_FLAGS): --langs picks the node languages
(repeated to three nodes), --only runs it only when "cluster" is listed.
Prints one line per check and node, then the check x node table; exit
status 0 only when every check passed. Every wait is bounded (TIMEOUT).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from typing import Any, Callable, Optional

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from run import make_certs  # noqa: E402 (the parity suite's test PKI, tests/parity/run.py)

TIMEOUT = 20.0  # seconds: the bound of every wait
PREFIX = "parity:"
# The nodes' cluster options, the same for every language: a queue of 4
# publications for the broker (so publishing while Redis is down drops some,
# a loss every other node must report), quick reconnects, a short connect timeout.
MAX_QUEUED, INITIAL_DELAY_MS, MAX_DELAY_MS, CONNECT_TIMEOUT_MS = 4, 50, 200, 1000
NODE_LANGS = ["c", "python", "csharp"]
LANG_OF_PARITY_LANG = {"c": "c", "python-sync": "python", "python-asyncio": "python", "csharp": "csharp"}
CHECKS = [
    "up_at_start",
    "one_broker_subscription_per_topic",
    "fan_out_exactly_once_in_order",
    "publish_counts_local_subscribers",
    "last_local_unsubscribe_leaves_the_channel",
    "redis_killed_same_state_events",
    "local_delivery_while_redis_down",
    "gaps_cover_what_was_lost",
    "resubscribed_and_delivery_resumes",
    "gap_on_publisher_restart",
    "unreachable_at_start_serves_locally",
]
# What the secure run (sharded, rediss://) leaves to the classic one.
CLASSIC_ONLY = {"gap_on_publisher_restart", "unreachable_at_start_serves_locally"}


class Failed(Exception):
    """A wait ran out or a step saw what it did not expect: the scenario stops."""


async def until(check: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise Failed(f"timed out after {timeout:.0f} s waiting until {what}")
        await asyncio.sleep(0.01)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# ------------------------------------------------------------------ redis


class Redis:
    """A redis-server of this run on 127.0.0.1 (no persistence): the nodes'
    URL, a TLS port with make_certs' server certificate when `tls_dir` is
    given, and the plain port this driver asks for classic or (`sharded`)
    sharded pub/sub figures."""

    def __init__(self, sharded: bool, tls_dir: str = "") -> None:
        self.port = free_port()
        self.sharded = sharded
        self.options = ["--port", str(self.port)]
        self.address = f"127.0.0.1:{self.port}"  # the nodes'
        if tls_dir:
            tls_port = free_port()
            self.options += ["--tls-port", str(tls_port), "--tls-auth-clients", "no"] + [
                x for option, name in (("cert-file", "server.pem"), ("key-file", "server.key"), ("ca-cert-file", "ca.pem"))
                for x in (f"--tls-{option}", os.path.join(tls_dir, name))]
            self.address = f"127.0.0.1:{tls_port}"
        self.url = f"{'rediss' if tls_dir else 'redis'}://{self.address}"
        self.proc: Optional[subprocess.Popen] = None

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", *self.options],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        await until(self.answers, "redis-server answers PING")

    def answers(self) -> bool:
        try:
            return self.command("PING") == "PONG"
        except OSError:
            return False

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # SIGKILL
            self.proc.wait()

    def command(self, *args: str) -> Any:
        """One command; its reply (simple strings, integers, bulk strings, arrays)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args))
            return read_reply(s.makefile("rb"))

    def numsub(self, channel: str) -> int:
        """The subscribers of a channel (PUBSUB NUMSUB or SHARDNUMSUB)."""
        reply = self.command("PUBSUB", "SHARDNUMSUB" if self.sharded else "NUMSUB", channel)
        return int(reply[1])

    def subs_by_client(self) -> dict[str, int]:
        """Channels each named client subscribes (CLIENT LIST's sub= or ssub=)."""
        out = {}
        for entry in self.command("CLIENT", "LIST").splitlines():
            fields = dict(f.split("=", 1) for f in entry.split(" ") if "=" in f)
            if fields.get("name"):
                out[fields["name"]] = int(fields["ssub" if self.sharded else "sub"])
        return out


def read_reply(f: Any) -> Any:
    head = f.readline()
    kind, rest = head[:1], head[1:-2].decode()
    if kind == b"+":
        return rest
    if kind == b":":
        return int(rest)
    if kind == b"$":
        return None if rest == "-1" else f.read(int(rest) + 2)[:-2].decode()
    if kind == b"*":
        return [read_reply(f) for _ in range(int(rest))]
    raise OSError(f"Redis answered {head!r}")


# ------------------------------------------------------------------ nodes


class Node:
    """One node process: its JSON lines (README.md) as they come."""

    def __init__(self, lang: str, node_id: str, command: list[str], url: str, sharded: bool, ca_file: str,
                 out: str) -> None:
        self.lang, self.id = lang, node_id
        self.command = command + [url, PREFIX, node_id, str(MAX_QUEUED), str(INITIAL_DELAY_MS),
                                  str(MAX_DELAY_MS), str(CONNECT_TIMEOUT_MS), "1" if sharded else "0", ca_file]
        self.stderr_path = os.path.join(out, f"{node_id}.stderr")
        self.events: list[dict] = []
        # The events of its earlier processes (restart), and their epochs.
        self.history: list[dict] = []
        self.epochs: list[int] = []
        self.proc: Optional[asyncio.subprocess.Process] = None
        self.reader: Optional[asyncio.Task] = None
        self.port = 0
        self.epoch = 0

    async def start(self) -> None:
        with open(self.stderr_path, "ab") as err:
            try:
                self.proc = proc = await asyncio.create_subprocess_exec(
                    *self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
            except OSError as e:
                raise Failed(f"the {self.id} node did not start: {e}") from None
        self.reader = asyncio.ensure_future(self.read(proc, self.events))
        await until(lambda: any(e["event"] == "listening" for e in self.events) or proc.returncode is not None,
                    f"the {self.id} node listens")
        listening = [e for e in self.events if e["event"] == "listening"]
        if not listening:
            raise Failed(f"the {self.id} node exited: {self.stderr_tail()}")
        self.port, self.epoch = listening[0]["port"], listening[0]["epoch"]
        self.epochs.append(self.epoch)
        if listening[0]["node"] != self.id or not self.epoch:
            raise Failed(f"the {self.id} node reads back node id {listening[0]['node']!r}, epoch {self.epoch}")

    @staticmethod
    async def read(proc: asyncio.subprocess.Process, events: list[dict]) -> None:
        assert proc.stdout
        async for raw in proc.stdout:
            try:
                events.append(json.loads(raw))
            except ValueError:
                events.append({"event": "not JSON", "text": raw.decode(errors="replace")})

    def states(self) -> list[dict]:
        return [e for e in self.events if e["event"] == "state"]

    def gaps(self) -> list[dict]:
        return [e for e in self.events if e["event"] == "gap"]

    def stderr_tail(self) -> str:
        with open(self.stderr_path, errors="replace") as f:
            return " | ".join(f.read().strip().splitlines()[-5:])

    async def restart(self) -> None:
        """A new process with the same id (so a new epoch)."""
        await self.stop()
        self.history += self.events
        self.events = []
        await self.start()

    async def stop(self) -> None:
        if self.proc and self.proc.returncode is None:
            assert self.proc.stdin
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.reader:
            await self.reader  # every line is in


class Client:
    """A python-websockets client of a node: its commands' replies ("ok ...",
    "error ...") and the publications it received, as (publisher, topic, index)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.ws: Optional[ClientConnection] = None
        self.replies: asyncio.Queue[str] = asyncio.Queue()
        self.got: list[tuple[str, str, int]] = []
        self.reader: Optional[asyncio.Task] = None

    async def open(self) -> "Client":
        self.ws = await connect(f"ws://127.0.0.1:{self.node.port}/", open_timeout=TIMEOUT)
        self.reader = asyncio.ensure_future(self.read())
        return self

    async def read(self) -> None:
        assert self.ws
        with contextlib.suppress(ConnectionClosed):
            async for message in self.ws:
                assert isinstance(message, str)
                if message.startswith(("ok ", "error ")):
                    self.replies.put_nowait(message)
                else:
                    _, publisher, topic, index = message.split(" ")
                    self.got.append((publisher, topic, int(index)))

    async def do(self, command: str) -> str:
        assert self.ws
        await self.ws.send(command)
        try:
            reply = await asyncio.wait_for(self.replies.get(), TIMEOUT)
        except asyncio.TimeoutError:
            raise Failed(f"no answer from the {self.node.id} node to {command!r}") from None
        if not reply.startswith("ok "):
            raise Failed(f"the {self.node.id} node answered {command!r} with {reply!r}")
        return reply[3:]

    async def publish(self, topic: str, index: int) -> int:
        return int((await self.do(f"pub {topic} m {self.node.id} {topic} {index}")).split()[1])

    async def stats(self) -> dict:
        return json.loads((await self.do("stats")).split(" ", 1)[1])

    def indices(self, publisher: str, topic: str) -> list[int]:
        return [i for p, t, i in self.got if p == publisher and t == topic]

    async def close(self) -> None:
        if self.ws:
            await self.ws.close()


# --------------------------------------------------------------- scenario


class Results:
    """The problems each check found on each node of one run (none: it
    passed), and why the run stopped early."""

    def __init__(self, mode: str, nodes: list[Node], checks: list[str]) -> None:
        self.mode, self.nodes, self.checks = mode, nodes, checks
        self.problems: dict[tuple[str, str], list[str]] = {}
        self.stopped: list[str] = []
        self.seconds = 0.0

    def check(self, check: str, node: Node, problems: list[str]) -> None:
        assert check in self.checks
        self.problems.setdefault((check, node.id), []).extend(problems)

    def row(self, check: str) -> str:
        return check if self.mode == "classic" else f"{check} ({self.mode})"

    def line(self, check: str, node: Node) -> str:
        label = f"{self.row(check)}: {node.lang} node {node.id}"
        problems = self.problems.get((check, node.id), ["not reached"])
        return f"FAIL {label}: " + "; ".join(problems) if problems else f"ok {label}"

    def failed(self) -> bool:
        return bool(self.stopped) or any(self.line(c, n).startswith("FAIL") for c in self.checks for n in self.nodes)


def in_order(got: list[int], expected: list[int]) -> list[str]:
    if got == expected:
        return []
    if len(got) != len(set(got)):
        return [f"duplicates in {got}"]
    if sorted(got) != got:
        return [f"out of order: {got}"]
    return [f"missing {sorted(set(expected) - set(got))}, extra {sorted(set(got) - set(expected))}"]


async def fan_out(nodes: list[Node], redis: Redis, results: Results) -> dict:
    """Every node: two subscribers of t1, one of t2, a publisher; each
    publisher publishes 10 to each topic; then the subscribers leave."""
    n = len(nodes)
    clients = {node.id: await asyncio.gather(*(Client(node).open() for _ in range(4))) for node in nodes}
    for node in nodes:
        s1a, s1b, s2, _ = clients[node.id]
        await asyncio.gather(s1a.do("sub t1"), s1b.do("sub t1"), s2.do("sub t2"))
    await until(lambda: redis.numsub(PREFIX + "t1") == n and redis.numsub(PREFIX + "t2") == n,
                f"PUBSUB NUMSUB of t1 and t2 is {n}")
    subs = redis.subs_by_client()
    for node in nodes:
        got = subs.get(f"wsx-{node.id}")
        results.check("one_broker_subscription_per_topic", node,
                      [] if got == 2 else [f"CLIENT LIST: its link subscribes {got} channels for t1 (2 local "
                                           f"subscribers) and t2 (1), not 2"])

    count = 10
    counts: dict[str, list[tuple[str, int]]] = {node.id: [] for node in nodes}

    async def publish_all(node: Node) -> None:
        publisher = clients[node.id][3]
        for i in range(1, count + 1):
            for topic in ("t1", "t2"):
                counts[node.id].append((topic, await publisher.publish(topic, i)))

    await asyncio.gather(*(publish_all(node) for node in nodes))
    every = [node.id for node in nodes]
    subscribers = [(node, c, t) for node in nodes for c, t in zip(clients[node.id][:3], ("t1", "t1", "t2"))]
    await until(lambda: all(len(c.got) >= n * count for _, c, _ in subscribers),
                "every subscriber got every node's publications")
    for node, c, topic in subscribers:
        problems = []
        for publisher in every:
            for p in in_order(c.indices(publisher, topic), list(range(1, count + 1))):
                problems.append(f"{topic} from {publisher}: {p}")
        if len(c.got) != n * count:
            problems.append(f"{len(c.got)} deliveries, not {n * count}")
        results.check("fan_out_exactly_once_in_order", node, problems)
    for node in nodes:
        wrong = [(t, c) for t, c in counts[node.id] if c != {"t1": 2, "t2": 1}[t]]
        results.check("publish_counts_local_subscribers", node,
                      [f"publish returned {wrong[:3]} (topic, count); t1 has 2 local subscribers, t2 1"] if wrong else [])

    # One of the two t1 subscribers leaves: the channel stays; the other one
    # still gets every node's publications.
    await asyncio.gather(*(clients[node.id][0].do("unsub t1") for node in nodes))
    kept = {node.id: await clients[node.id][3].publish("t1", count + 1) for node in nodes}
    await until(lambda: all(len(clients[node.id][1].got) >= n * (count + 1) for node in nodes),
                "the remaining t1 subscribers got the next publication of every node")
    numsub_kept, subs = redis.numsub(PREFIX + "t1"), redis.subs_by_client()
    # The last one leaves (unsubscribing; t2's subscriber by closing).
    await asyncio.gather(*(clients[node.id][1].do("unsub t1") for node in nodes),
                         *(clients[node.id][2].close() for node in nodes))
    await until(lambda: redis.numsub(PREFIX + "t1") == 0 and redis.numsub(PREFIX + "t2") == 0,
                "PUBSUB NUMSUB of t1 and t2 is 0")
    subs_after = redis.subs_by_client()
    for node in nodes:
        stats = await clients[node.id][3].stats()
        problems = []
        if kept[node.id] != 1:
            problems.append(f"publish to t1 with one local subscriber left returned {kept[node.id]}")
        if numsub_kept != n or subs.get(f"wsx-{node.id}") != 2:
            problems.append(f"with one local t1 subscriber left: NUMSUB {numsub_kept}, "
                            f"its link subscribes {subs.get(f'wsx-{node.id}')} channels (not 2)")
        if subs_after.get(f"wsx-{node.id}") != 0 or stats["subscriptions"] != 0:
            problems.append(f"after the last: its link subscribes {subs_after.get(f'wsx-{node.id}')} channels, "
                            f"stats say {stats['subscriptions']}")
        results.check("last_local_unsubscribe_leaves_the_channel", node, problems)
    return clients


async def redis_restart(nodes: list[Node], redis: Redis, results: Results) -> None:
    """One subscriber of k per node and publishers that never stop: Redis is
    SIGKILLed, publishing goes on while it is down, it restarts on its port."""
    n = len(nodes)
    subscribers = {node.id: await Client(node).open() for node in nodes}
    publishers = {node.id: await Client(node).open() for node in nodes}
    await asyncio.gather(*(c.do("sub k") for c in subscribers.values()))
    await until(lambda: redis.numsub(PREFIX + "k") == n, f"PUBSUB NUMSUB of k is {n}")

    published = {node.id: 0 for node in nodes}
    counts: dict[str, list[int]] = {node.id: [] for node in nodes}
    stop = asyncio.Event()

    async def publish_on(node: Node) -> None:
        while not stop.is_set():
            counts[node.id].append(await publishers[node.id].publish("k", published[node.id] + 1))
            published[node.id] += 1
            await asyncio.sleep(0.01)

    def publishing() -> None:
        for task in tasks:
            if task.done() and task.exception():
                raise Failed(f"publishing stopped: {task.exception()}")

    def everyone_got(at_least: dict[str, int]) -> bool:
        publishing()
        return all(max(subscribers[s].indices(p, "k"), default=0) >= at_least[p] for s in at_least for p in at_least)

    def published_more(than: dict[str, int], more: int) -> bool:
        publishing()
        return all(published[p] >= than[p] + more for p in published)

    tasks = [asyncio.ensure_future(publish_on(node)) for node in nodes]
    try:
        await until(lambda: everyone_got({node.id: 5 for node in nodes}), "every subscriber got 5 of every node")
        before = {node.id: len(node.states()) for node in nodes}
        redis.kill()
        await until(lambda: all(len(node.states()) > before[node.id] for node in nodes),
                    "every node reports the cluster down")
        down_at = dict(published)
        await until(lambda: published_more(down_at, 2 * MAX_QUEUED),
                    f"every node published {2 * MAX_QUEUED} more with Redis down")
        await redis.start()
        await until(lambda: all(len(node.states()) > before[node.id] + 1 and node.states()[-1]["state"] == "up"
                                for node in nodes), "every node reports the cluster up again")
        up_at = dict(published)
        await until(lambda: published_more(up_at, 5), "every node published 5 more")
        stop.set()
        await asyncio.gather(*tasks)
        final = dict(published)
        await until(lambda: everyone_got(final), "every subscriber got the last publication of every node")
        numsub, subs = redis.numsub(PREFIX + "k"), redis.subs_by_client()
        stats = {node.id: await publishers[node.id].stats() for node in nodes}
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in [*subscribers.values(), *publishers.values()]))

    reference = [(e["state"], e["detail"] if e["state"] != "down" else "") for e in nodes[0].states()[before[nodes[0].id]:]]
    for node in nodes:
        seen = [(e["state"], e["detail"] if e["state"] != "down" else "") for e in node.states()[before[node.id]:]]
        problems = []
        if [s for s, _ in seen] != ["down", "resubscribing", "up"]:
            problems.append(f"state events {[s for s, _ in seen]}, not down, resubscribing, up")
        elif seen != reference:
            problems.append(f"events {seen} differ from the {nodes[0].id} node's {reference}")
        results.check("redis_killed_same_state_events", node, problems)

        own = subscribers[node.id].indices(node.id, "k")
        problems = in_order(own, list(range(1, final[node.id] + 1)))
        if any(c != 1 for c in counts[node.id]):
            problems.append(f"publish returned {sorted(set(counts[node.id]))}, not 1 (its local subscriber)")
        results.check("local_delivery_while_redis_down", node, problems)

        problems = []
        for publisher in nodes:
            if publisher is node:
                continue
            got = subscribers[node.id].indices(publisher.id, "k")
            gaps = [g for g in node.gaps() if g["node"] == publisher.id]
            lost: set[int] = set()
            for g in gaps:
                if (g["topic"], g["epoch"], g["previous_epoch"]) != ("k", publisher.epoch, None) \
                        or g["missed"] != g["received"] - g["expected"] or g["missed"] <= 0:
                    problems.append(f"a gap event unlike a loss within one epoch of {publisher.id}: {g}")
                lost |= set(range(g["expected"], g["received"]))
            if sorted(got) != got or len(set(got)) != len(got):
                problems.append(f"from {publisher.id}: not once each in order: {got}")
            if lost & set(got):
                problems.append(f"from {publisher.id}: reported lost but delivered: {sorted(lost & set(got))}")
            unaccounted = set(range(1, final[publisher.id] + 1)) - lost - set(got)
            if unaccounted:
                problems.append(f"from {publisher.id}: lost without a gap event: {sorted(unaccounted)}")
            if not gaps:
                problems.append(f"no gap event for {publisher.id}, which dropped {stats[publisher.id]['dropped']}")
        other = [g for g in node.gaps() if g["topic"] != "k"]
        if other:
            problems.append(f"gap events where nothing was lost: {other}")
        if stats[node.id]["gaps"] != len(node.gaps()):
            problems.append(f"stats count {stats[node.id]['gaps']} gaps, it raised {len(node.gaps())}")
        results.check("gaps_cover_what_was_lost", node, problems)

        s = stats[node.id]
        problems = []
        if numsub != n or subs.get(f"wsx-{node.id}") != 1:
            problems.append(f"after the restart: NUMSUB of k {numsub}, its link subscribes {subs.get(f'wsx-{node.id}')}")
        if (s["state"], s["subscriptions"], s["disconnects"]) != ("up", 1, 1) or s["dropped"] < 1:
            problems.append(f"stats {s}: not up, 1 subscription, 1 disconnect, some dropped")
        results.check("resubscribed_and_delivery_resumes", node, problems)


async def publisher_restarts(nodes: list[Node], redis: Redis, results: Results) -> None:
    """The nodes restart one after the other (a new epoch each); after each
    restart every node publishes once to r, so each node hears every other
    node's epoch: those still running when a node restarts report the new
    epoch as a gap of unknown size (README.md)."""
    clients: dict[str, tuple[Client, Client]] = {}

    async def join(node: Node) -> None:
        clients[node.id] = (await Client(node).open(), await Client(node).open())
        await clients[node.id][0].do("sub r")

    n = len(nodes)
    subscribed = (lambda: redis.numsub(PREFIX + "r") == n, f"PUBSUB NUMSUB of r is {n}")

    async def publish_round(index: int) -> None:
        await asyncio.gather(*(clients[node.id][1].publish("r", index) for node in nodes))
        await until(lambda: all((p.id, "r", index) in clients[s.id][0].got for s in nodes for p in nodes),
                    f"every subscriber of r got publication {index} of every node")

    try:
        await asyncio.gather(*(join(node) for node in nodes))
        await until(*subscribed)
        await publish_round(0)
        for round, node in enumerate(nodes, 1):
            await asyncio.gather(*(c.close() for c in clients.pop(node.id)))
            await node.restart()
            await until(lambda: bool(node.states()), f"the restarted {node.id} node reports a state")
            await join(node)
            await until(*subscribed)
            await publish_round(round)
    finally:
        for pair in clients.values():
            await asyncio.gather(*(c.close() for c in pair))
    for i, node in enumerate(nodes):
        problems = []
        if [e["state"] for e in node.states()] != ["up"]:
            problems.append(f"after its restart, state events {node.states()}")
        gaps = [g for g in node.history + node.events if g["event"] == "gap" and g["topic"] == "r"]
        # Each other node restarted while a process of this one had heard
        # from it: before this one's restart (its first process saw round 0)
        # or after (its second process saw the round before).
        expected = {}
        for j, publisher in enumerate(nodes):
            if j != i:
                expected[publisher.id] = {"topic": "r", "node": publisher.id, "epoch": publisher.epochs[1],
                                          "previous_epoch": publisher.epochs[0], "expected": j + 2,
                                          "received": 1, "missed": None}
        seen = {g["node"]: {k: v for k, v in g.items() if k != "event"} for g in gaps}
        if len(gaps) != len(seen) or seen != expected:
            problems.append(f"gap events on r {gaps}, expected one per other node: {list(expected.values())}")
        results.check("gap_on_publisher_restart", node, problems)


async def unreachable(nodes: list[Node], results: Results) -> None:
    """Nodes whose Redis is not there: they serve their own subscribers and
    report the cluster down (and only that)."""
    await until(lambda: all(node.states() for node in nodes), "every node reports a state")
    for node in nodes:
        client = await Client(node).open()
        await client.do("sub t")
        count = await client.publish("t", 1)
        await until(lambda: len(client.got) == 1, f"the {node.id} node's subscriber got its publication")
        stats = await client.stats()
        await client.close()
        problems = []
        states = [e["state"] for e in node.states()]
        if states != ["down"]:
            problems.append(f"state events {states}, not down")
        if count != 1 or client.got != [(node.id, "t", 1)]:
            problems.append(f"publish returned {count}, delivered {client.got}")
        if (stats["state"], stats["queued"], stats["published"]) != ("down", 1, 0):
            problems.append(f"stats {stats}: not down with the publication queued")
        results.check("unreachable_at_start_serves_locally", node, problems)


async def scenario(args: argparse.Namespace, langs: list[str], secure: bool) -> Results:
    """One run: a node per entry of `langs` on a Redis of its own. The
    classic run uses pub/sub over redis:// and also starts the nodes of an
    unreachable Redis and restarts every node; the `secure` one uses
    sharded pub/sub over rediss:// (a private CA: make_certs of run.py)."""
    start = time.monotonic()
    mode = "sharded, rediss" if secure else "classic"
    ids = [lang if langs.count(lang) == 1 else f"{lang}-{langs[:i + 1].count(lang)}" for i, lang in enumerate(langs)]
    commands = {
        "c": [args.c_node],
        "python": [args.python, os.path.join(HERE, "node_py.py")],
        "csharp": [args.mono, "--debug", args.csharp_node],
    }
    tls_dir = os.path.join(args.out, "tls")
    if secure:
        make_certs(tls_dir)

    def make(url: str, out: str) -> list[Node]:
        os.makedirs(out, exist_ok=True)
        ca_file = os.path.join(tls_dir, "ca.pem") if secure else ""
        return [Node(lang, i, commands[lang], url, secure, ca_file, out) for lang, i in zip(langs, ids)]

    redis = Redis(secure, tls_dir if secure else "")
    nodes = make(redis.url, os.path.join(args.out, "sharded-rediss" if secure else "classic"))
    lonely = [] if secure else make(f"redis://127.0.0.1:{free_port()}", os.path.join(args.out, "unreachable"))
    results = Results(mode, nodes, [c for c in CHECKS if not (secure and c in CLASSIC_ONLY)])
    clients: dict = {}
    lonely_done: Optional[asyncio.Future] = None
    try:
        await redis.start()
        await asyncio.gather(*(node.start() for node in nodes + lonely))
        lonely_done = asyncio.ensure_future(unreachable(lonely, results))
        await until(lambda: all(node.states() for node in nodes), "every node reports a state")
        for node in nodes:
            first = node.states()[0]
            ok = first["state"] == "up" and first["detail"] == f"connected to {redis.address}; 0 topics subscribed"
            results.check("up_at_start", node, [] if ok else [f"first state event {first}"])
        clients = await fan_out(nodes, redis, results)
        await redis_restart(nodes, redis, results)
        # The t1 subscribers' whole history: nothing arrived after they left.
        for node in nodes:
            s1a, s1b = clients[node.id][:2]
            problems = [f"{label} got {len(c.got)}, not {len(nodes) * n}"
                        for label, c, n in (("after unsub t1, the first subscriber", s1a, 10),
                                            ("after unsub t1, the second", s1b, 11)) if len(c.got) != len(nodes) * n]
            results.check("fan_out_exactly_once_in_order", node, problems)
        if not secure:
            await publisher_restarts(nodes, redis, results)
        await lonely_done
    except Failed as e:
        results.stopped.append(str(e))
    finally:
        if lonely_done and not lonely_done.done():
            lonely_done.cancel()
        for cs in clients.values():
            await asyncio.gather(*(c.close() for c in cs), return_exceptions=True)
        await asyncio.gather(*(node.stop() for node in nodes + lonely))
        redis.kill()
    for node in nodes + lonely:
        with open(os.path.splitext(node.stderr_path)[0] + ".events", "w") as f:
            f.writelines(json.dumps(e) + "\n" for e in node.history + node.events)
        if node.proc and node.proc.returncode not in (0, None):
            results.stopped.append(f"the {node.id} node exited {node.proc.returncode}: {node.stderr_tail()}")
        results.stopped += [f"the {node.id} node printed {e['text']!r}" for e in node.history + node.events
                            if e["event"] == "not JSON"]
    results.seconds = time.monotonic() - start
    return results


async def both(args: argparse.Namespace, langs: list[str]) -> list[Results]:
    """The classic and the secure run, side by side."""
    return list(await asyncio.gather(scenario(args, langs, False), scenario(args, langs, True)))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--c-node")
    ap.add_argument("--csharp-node")
    ap.add_argument("--mono", default="mono")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "..", "build", "parity"))
    ap.add_argument("--langs", default="", help="run.py's --langs: the node languages")
    ap.add_argument("--only", default="", help="run.py's --only: runs when it lists \"cluster\" (or is empty)")
    args, _ = ap.parse_known_args()  # run.py's other flags (--servers ...) do not apply
    if args.only and "cluster" not in args.only.split(","):
        print("cluster parity: not in --only")
        return 0
    picked = {LANG_OF_PARITY_LANG.get(x, x) for x in args.langs.split(",") if x} or set(NODE_LANGS)
    langs = [lang for lang in NODE_LANGS if lang in picked]
    if not langs:
        print("cluster parity: no node language in --langs")
        return 0
    langs = [langs[i % len(langs)] for i in range(3)]
    for lang, path in (("c", args.c_node), ("csharp", args.csharp_node)):
        if lang in langs and not path:
            raise SystemExit(f"cluster parity: --{lang}-node is needed")
    if shutil.which("redis-server") is None:
        raise SystemExit("cluster parity: redis-server is missing (`make deps` installs Debian's redis-server)")
    args.out = os.path.join(args.out, "cluster")

    start = time.monotonic()
    runs = asyncio.run(both(args, langs))
    nodes = runs[0].nodes
    print(f"== cluster: nodes {', '.join(f'{n.id} ({n.lang})' for n in nodes)}; "
          f"{' and '.join(f'{r.mode} ({r.seconds:.1f} s)' for r in runs)} "
          f"({time.monotonic() - start:.1f} s)")
    for results in runs:
        for text in results.stopped:
            print(f"   {results.mode} run stopped: {text}")
        for check in results.checks:
            for node in results.nodes:
                text = results.line(check, node)
                if not text.startswith("ok"):
                    print("   " + text)
    rows = [(results, check) for results in runs for check in results.checks]
    width = max(len(results.row(check)) for results, check in rows)
    print()
    print(" " * width + " | " + " | ".join(f"{n.id:>8}" for n in nodes))
    for results, check in rows:
        cells = [results.line(check, n).split(" ", 1)[0] for n in results.nodes]
        print(f"{results.row(check):<{width}} | " + " | ".join(f"{c:>8}" for c in cells))
    print()
    failed = any(results.failed() for results in runs)
    print("cluster parity: " + ("FAILED" if failed else "passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
