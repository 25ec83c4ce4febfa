"""A Python `websockets` peer for the C examples (tests/c/run.sh).

    peer.py echo-check-server [HOST]  serves once (on 127.0.0.1, or HOST:
                                   ::1): sends a text and a binary message,
                                   expects both echoed back, closes with
                                   1000; exits 0 when all went right
    peer.py drop-server N          echoes, and closes every connection with
                                   1001 after N messages, until killed
    peer.py echo-check-client URL  sends a text and a binary message to an
                                   echo server, expects them back, closes with
                                   4001 and expects 4001 back
    peer.py chat-rooms-check URL   joins the C chat_server's rooms by path
                                   and by "/join", and checks each message
                                   reaches its room's other members only
    peer.py routes-check URL       checks the C routes_server's WebSocket
                                   endpoints (/echo, /shout, /whoami, a 404,
                                   /private with and without its token)
    peer.py whoami URL CA [CERT KEY]  connects to routes_server's /whoami over
                                   TLS (with a client certificate) and prints
                                   the subject it answers, or "refused: ..."
    peer.py alpn HOST PORT CA P1,P2  a TLS handshake offering ALPN P1,P2:
                                   prints the protocol chosen, or "refused: ..."
    peer.py chat-cluster-check REDIS_PORT URL...
                                   two members of one room on each chat_server
                                   of a cluster: every message reaches the
                                   other five once, in its sender's order

The servers print "listening on 127.0.0.1:PORT" once they accept connections.
"""

import asyncio
import socket
import ssl
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import InvalidStatus

TEXT = "hello from python \u00e9"
BINARY = bytes([0, 1, 2, 254, 255])


def fail(message):
    print(f"peer.py: {message}", file=sys.stderr)
    sys.exit(1)


async def expect_echo(ws):
    await ws.send(TEXT)
    await ws.send(BINARY)
    text = await asyncio.wait_for(ws.recv(), 5)
    binary = await asyncio.wait_for(ws.recv(), 5)
    if text != TEXT or binary != BINARY:
        fail(f"echo mismatch: {text!r} {binary!r}")


async def echo_check_server(host="127.0.0.1"):
    done = asyncio.get_running_loop().create_future()

    async def handler(ws):
        try:
            await expect_echo(ws)
            await ws.close(1000, "checked")
            done.set_result(True)
        except Exception as error:  # reported through the exit status
            done.set_exception(error)

    async with serve(handler, host, 0) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on {host}:{port}", flush=True)
        await asyncio.wait_for(done, 30)
    print("peer.py: echoed text and binary came back", flush=True)


async def drop_server(limit):
    async def handler(ws):
        count = 0
        async for message in ws:
            await ws.send(message)
            count += 1
            if count >= limit:
                await ws.close(1001, "dropping you")

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await asyncio.Future()


async def echo_check_client(url):
    async with connect(url) as ws:
        await expect_echo(ws)
        await ws.close(4001, "bye")
    if ws.close_code != 4001:
        fail(f"expected close 4001 back, got {ws.close_code}")
    print("peer.py: echo and close code 4001 came back", flush=True)


async def expect(ws, wanted, who):
    got = await asyncio.wait_for(ws.recv(), 5)
    if got != wanted:
        fail(f"{who} expected {wanted!r}, got {got!r}")


async def chat_rooms_check(base):
    async with (
        connect(base + "/room/red") as red1,
        connect(base + "/room/red") as red2,
        connect(base + "/room/blue") as blue,
        connect(base + "/") as lobby,
    ):
        await red1.send("hi red")
        await expect(red2, "hi red", "red2")
        await lobby.send("/join red")
        await expect(lobby, "* joined red", "lobby")
        await red2.send("second")
        await expect(red1, "second", "red1")
        await expect(lobby, "second", "lobby (now in red)")
        await lobby.send("/join bad name!")
        await expect(lobby, "* bad room name", "lobby")
        await red1.send("/join blue")
        await expect(red1, "* joined blue", "red1")
        await red1.send("to blue")
        # Blue's first message: nothing from red reached it.
        await expect(blue, "to blue", "blue")
        await red2.send(bytes([0, 1, 2]))
        await expect(lobby, bytes([0, 1, 2]), "lobby")
        # The senders got nothing of their own: their next message is this.
        await blue.send("from blue")
        await expect(red1, "from blue", "red1")
        await lobby.send("last")
        await expect(red2, "last", "red2")
    print("peer.py: every message reached its room only", flush=True)


async def refused_with(url, status, **kwargs):
    try:
        async with connect(url, **kwargs):
            pass
    except InvalidStatus as error:
        if error.response.status_code != status:
            fail(f"{url}: expected {status}, got {error.response.status_code}")
        return error.response
    fail(f"{url}: expected a refusal with {status}")


async def routes_check(base):
    async with connect(base + "/echo") as echo, connect(base + "/shout") as shout:
        await echo.send("hi")
        await expect(echo, "hi", "/echo")
        await echo.send(BINARY)
        await expect(echo, BINARY, "/echo")
        await shout.send("hello, world")
        await expect(shout, "HELLO, WORLD", "/shout")
        await echo.send("still me")
        await expect(echo, "still me", "/echo (its own callbacks)")
    async with connect(base + "/whoami") as who:
        await expect(who, "anonymous", "/whoami without TLS")
    await refused_with(base + "/nope", 404)
    response = await refused_with(base + "/private", 401)
    if response.headers.get("WWW-Authenticate") != 'Bearer realm="routes"':
        fail(f"401 without its WWW-Authenticate: {response.headers}")
    token = {"Authorization": "Bearer letmein"}
    async with connect(base + "/private", additional_headers=token) as private:
        await private.send("secret")
        await expect(private, "secret", "/private with the token")
    print("peer.py: each path reached its own endpoint", flush=True)


async def whoami(url, ca, cert=None, key=None):
    context = ssl.create_default_context(cafile=ca)
    if cert:
        context.load_cert_chain(cert, key)
    try:
        async with connect(url, ssl=context, open_timeout=5) as ws:
            print(await asyncio.wait_for(ws.recv(), 5), flush=True)
    except Exception as error:  # the expected outcome of some checks
        print(f"refused: {type(error).__name__}: {error}", flush=True)


def alpn(host, port, ca, offered):
    context = ssl.create_default_context(cafile=ca)
    context.set_alpn_protocols(offered.split(","))
    try:
        with socket.create_connection((host, int(port)), timeout=5) as tcp:
            with context.wrap_socket(tcp, server_hostname="localhost") as tls:
                print(tls.selected_alpn_protocol(), flush=True)
    except (ssl.SSLError, OSError) as error:
        print(f"refused: {error}", flush=True)
async def redis_numsub(port, channel):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    command = f"*3\r\n$6\r\nPUBSUB\r\n$6\r\nNUMSUB\r\n${len(channel)}\r\n{channel}\r\n"
    writer.write(command.encode())
    lines = [await reader.readline() for _ in range(4)]
    writer.close()
    await writer.wait_closed()
    return int(lines[3].decode().strip().lstrip(":"))


async def chat_cluster_check(redis_port, urls):
    per_member = 20
    members = []
    for url in urls:
        for _ in range(2):
            members.append(await connect(url + "/room/cl"))
    other = await connect(urls[1] + "/room/other")
    try:
        # Each server subscribes to the room on Redis once, whatever its members.
        for _ in range(200):
            if await redis_numsub(redis_port, "wsx:cl") == len(urls):
                break
            await asyncio.sleep(0.05)
        else:
            fail("the servers did not all subscribe to wsx:cl")
        for k in range(per_member):
            for i, ws in enumerate(members):
                await ws.send(f"{i}:{k}")
        for ws in members:
            await ws.send("done")

        async def receive(i, ws):
            seen = {j: 0 for j in range(len(members)) if j != i}
            done = 0
            while done < len(members) - 1:
                message = await asyncio.wait_for(ws.recv(), 10)
                if message == "done":
                    done += 1
                    continue
                j, k = (int(x) for x in message.split(":"))
                if j == i:
                    fail(f"member {i} got its own message {message}")
                if k != seen[j]:
                    fail(f"member {i}: from {j} expected {seen[j]}, got {k} (lost, twice or out of order)")
                seen[j] += 1
            if any(n != per_member for n in seen.values()):
                fail(f"member {i}: counts {seen}")

        await asyncio.gather(*(receive(i, ws) for i, ws in enumerate(members)))
        try:
            message = await asyncio.wait_for(other.recv(), 0.3)
            fail(f"a member of another room got {message!r}")
        except asyncio.TimeoutError:
            pass
    finally:
        for ws in members + [other]:
            await ws.close()
    print(
        f"peer.py: {len(members)} members on {len(urls)} servers got every message once, in order",
        flush=True,
    )


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "echo-check-server" and len(sys.argv) in (2, 3):
        asyncio.run(echo_check_server(*sys.argv[2:]))
    elif mode == "drop-server" and len(sys.argv) == 3:
        asyncio.run(drop_server(int(sys.argv[2])))
    elif mode == "echo-check-client" and len(sys.argv) == 3:
        asyncio.run(echo_check_client(sys.argv[2]))
    elif mode == "chat-rooms-check" and len(sys.argv) == 3:
        asyncio.run(chat_rooms_check(sys.argv[2]))
    elif mode == "routes-check" and len(sys.argv) == 3:
        asyncio.run(routes_check(sys.argv[2]))
    elif mode == "whoami" and len(sys.argv) in (4, 6):
        asyncio.run(whoami(*sys.argv[2:]))
    elif mode == "alpn" and len(sys.argv) == 6:
        alpn(*sys.argv[2:])
    elif mode == "chat-cluster-check" and len(sys.argv) >= 4:
        asyncio.run(chat_cluster_check(int(sys.argv[2]), sys.argv[3:]))
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
