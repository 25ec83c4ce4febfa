using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>
    /// The System.Net.WebSockets.WebSocket surface (issue 16): every test holds the connection as a
    /// plain <see cref="WebSocket"/> where it can, against real peers.
    /// </summary>
    internal static partial class Program
    {
        static void WebSocketTests(Runner runner, Peer echo, Peer python, Dictionary<string, string> options)
        {
            foreach (var peer in new[] { echo, python })
            {
                var p = peer;
                runner.Run(p.Name + ": WebSocket: fragments out, small-buffer parts in (EndOfMessage)", () => FragmentsBothWays(p));
            }
            runner.Run("websockets: WebSocket: the server's close status reaches ReceiveAsync", () => ServerCloseStatus(python));
            runner.Run("WsxServer: WebSocket: close status both ways, CloseOutputAsync, states from the library", CloseStatusBothWays);
            runner.Run("WsxServer: WebSocket: server-side ReceiveAsync echo through a small buffer", ServerSideReceiveEcho);
            runner.Run("WsxServer: WebSocket: Abort fails a pending ReceiveAsync, the peer sees the end", AbortPendingReceive);
            runner.Run("websockets: WebSocket: Dispose during a pending ReceiveAsync (no crash, no hang)", () => DisposeDuringReceive(python));
            runner.Run("WebSocket: failures are caught as WebSocketException", () => CaughtAsWebSocketException(python));
            runner.Run("websockets: WebSocket: one delivery mode per connection (events or ReceiveAsync)", () => OneDeliveryMode(python));
            runner.Run("websockets: WebSocket: ping round trip, buffered amount, read pausing", () => PingAndFlowControl(python));
            runner.Run("WebSocket: option defaults come from the native library", OptionDefaultsFromNative);
            runner.Run("native library: the .NET resolver's candidates are runtimes/<rid>/native/ beside Wsx.dll", ResolverCandidates);
            runner.Run("WsxServer: deferred upgrade decisions and a deferred client attempt, decided on other threads", DeferredDecisions);
            if (options.ContainsKey("--examples"))
            {
                var dir = options["--examples"];
                var runtime = options["--runtime"];
                var sources = options.GetOrDefault("--examples-src", Path.Combine(dir, "..", "..", "examples", "csharp"));
                runner.Run("examples: the ClientWebSocket sample, one line changed, prints what ClientWebSocket prints (no LD_LIBRARY_PATH)",
                    () => ClientWebSocketSample(echo, runtime, dir, sources));
                runner.Run("examples: a library function of any WebSocket, client and server side (no LD_LIBRARY_PATH)",
                    () => AnyWebSocketExample(runtime, dir));
            }
        }

        /// <summary>Sends a message in parts, reads the echo through a 7-byte buffer.</summary>
        static async Task FragmentsBothWays(Peer peer)
        {
            using (WebSocket ws = await Connect(peer.Url()))
            {
                var text = "fragments: " + new string('é', 40) + " ✓ end";
                var bytes = Encoding.UTF8.GetBytes(text);
                // Five parts, split inside multi-byte characters on purpose.
                int[] cuts = { 0, 3, 12, 13, 50, bytes.Length };
                for (int i = 0; i + 1 < cuts.Length; i++)
                    await ws.SendAsync(new ArraySegment<byte>(bytes, cuts[i], cuts[i + 1] - cuts[i]), WebSocketMessageType.Text, i + 2 == cuts.Length, CancellationToken.None);

                var buffer = new byte[7];
                var got = new MemoryStream();
                var parts = new List<WebSocketReceiveResult>();
                WebSocketReceiveResult result;
                do
                {
                    result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None);
                    parts.Add(result);
                    got.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);
                Assert.Equal(text, Encoding.UTF8.GetString(got.ToArray()), "the message put together");
                Assert.Equal((bytes.Length + 6) / 7, parts.Count, "parts of at most 7 bytes");
                Assert.True(parts.Take(parts.Count - 1).All(r => !r.EndOfMessage && r.Count == 7), "every part but the last fills the buffer, EndOfMessage false");
                Assert.True(parts.All(r => r.MessageType == WebSocketMessageType.Text), "every part is Text");

                // A binary message whose parts are empty, then one that fits exactly.
                await ws.SendAsync(new ArraySegment<byte>(new byte[0]), WebSocketMessageType.Binary, false, CancellationToken.None);
                await ws.SendAsync(new ArraySegment<byte>(new byte[] { 1, 2, 3, 4, 5, 6, 7 }), WebSocketMessageType.Binary, false, CancellationToken.None);
                await ws.SendAsync(new ArraySegment<byte>(new byte[0]), WebSocketMessageType.Binary, true, CancellationToken.None);
                result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None);
                Assert.Equal(WebSocketMessageType.Binary, result.MessageType, "binary");
                Assert.Equal(7, result.Count, "7 bytes");
                Assert.True(result.EndOfMessage, "a message that fits the buffer exactly ends in one part");

                // Mixing types inside one message, and text that is not UTF-8 across the parts, are
                // refused by the library when sent, before anything goes out.
                await ws.SendAsync(new ArraySegment<byte>(new byte[] { 1 }), WebSocketMessageType.Binary, false, CancellationToken.None);
                var mixed = await Assert.ThrowsAsync<WebSocketException>(
                    () => ws.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes("x")), WebSocketMessageType.Text, true, CancellationToken.None), "a text part in a binary message");
                Assert.Equal(WsxResult.InvalidArgument, WsxException.Of(mixed).Result, "refused by the library");
                await ws.SendAsync(new ArraySegment<byte>(new byte[] { 2 }), WebSocketMessageType.Binary, true, CancellationToken.None);
                result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None);
                Assert.Equal(2, result.Count, "the binary message of two parts");
                Assert.True(buffer[0] == 1 && buffer[1] == 2, "its bytes in order");

                await ws.SendAsync(new ArraySegment<byte>(new byte[] { 0xC3 }), WebSocketMessageType.Text, false, CancellationToken.None);
                var invalid = await Assert.ThrowsAsync<WebSocketException>(
                    () => ws.SendAsync(new ArraySegment<byte>(new byte[] { 0x41 }), WebSocketMessageType.Text, true, CancellationToken.None), "a split character not completed");
                Assert.Equal(WsxResult.InvalidArgument, WsxException.Of(invalid).Result, "invalid UTF-8 refused by the library");
                await ws.SendAsync(new ArraySegment<byte>(new byte[] { 0xA9 }), WebSocketMessageType.Text, true, CancellationToken.None);
                result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None);
                Assert.Equal("é", Encoding.UTF8.GetString(buffer, 0, result.Count), "a character split between two parts");

                await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
                Assert.Equal(WebSocketState.Closed, ws.State, "closed");
            }
        }

        /// <summary>The peer closes with 4002: ReceiveAsync returns it, then keeps returning it.</summary>
        static async Task ServerCloseStatus(Peer python)
        {
            using (WebSocket ws = await Connect(python.Url()))
            {
                var buffer = new byte[64];
                await ws.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes("close 4002 server bye")), WebSocketMessageType.Text, true, CancellationToken.None);
                var result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None);
                Assert.Equal(WebSocketMessageType.Close, result.MessageType, "a Close result");
                Assert.Equal((WebSocketCloseStatus)4002, result.CloseStatus, "its status");
                Assert.Equal("server bye", result.CloseStatusDescription, "its description");
                Assert.Equal((WebSocketCloseStatus)4002, ws.CloseStatus, "WebSocket.CloseStatus");
                Assert.Equal("server bye", ws.CloseStatusDescription, "WebSocket.CloseStatusDescription");
                Assert.Equal(WebSocketState.Closed, ws.State, "the library answered the close: Closed");
                result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None);
                Assert.Equal(WebSocketMessageType.Close, result.MessageType, "the Close result again");
                // Closing a closed WebSocket does nothing.
                await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
            }
        }

        /// <summary>A WsxServer whose connections go to <paramref name="accepted"/>.</summary>
        static WsxServer AcceptingServer(Action<WsxServerConnection> accepted)
        {
            var server = new WsxServer(new WsxServerOptions());
            server.ClientConnected += (s, e) => accepted((WsxServerConnection)e.Connection);
            server.Start();
            return server;
        }

        static async Task CloseStatusBothWays()
        {
            var serverSide = new TaskCompletionSource<WebSocket>();
            using (var server = AcceptingServer(c => serverSide.TrySetResult(c)))
            {
                var url = new Uri("ws://127.0.0.1:" + server.Port + "/");
                // Client closes: the server's ReceiveAsync returns the client's status.
                using (WebSocket client = await Connect(url))
                {
                    var accepted = await serverSide.Task;
                    Assert.Equal(WebSocketState.Open, accepted.State, "server side open");
                    await client.CloseOutputAsync((WebSocketCloseStatus)4001, "client bye", CancellationToken.None);
                    var state = client.State;
                    Assert.True(state == WebSocketState.CloseSent || state == WebSocketState.Closed, "CloseSent (or already Closed) after CloseOutputAsync: " + state);
                    var result = await accepted.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None);
                    Assert.Equal(WebSocketMessageType.Close, result.MessageType, "the server reads a Close");
                    Assert.Equal((WebSocketCloseStatus)4001, result.CloseStatus, "the client's code");
                    Assert.Equal("client bye", result.CloseStatusDescription, "the client's description");
                    // The client reads the answer to its close.
                    result = await client.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None);
                    Assert.Equal(WebSocketMessageType.Close, result.MessageType, "the client reads the answer");
                    Assert.Equal(WebSocketState.Closed, client.State, "client Closed");
                    Assert.Equal((WebSocketCloseStatus)4001, client.CloseStatus, "the client's CloseStatus: the code of the close");
                }
                // Server closes: the client's ReceiveAsync returns the server's status.
                serverSide = new TaskCompletionSource<WebSocket>();
                using (WebSocket client = await Connect(url))
                {
                    var accepted = await serverSide.Task;
                    var closing = accepted.CloseAsync(WebSocketCloseStatus.PolicyViolation, "server bye", CancellationToken.None);
                    var result = await client.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None);
                    Assert.Equal(WebSocketMessageType.Close, result.MessageType, "the client reads a Close");
                    Assert.Equal(WebSocketCloseStatus.PolicyViolation, result.CloseStatus, "the server's code");
                    Assert.Equal("server bye", result.CloseStatusDescription, "the server's description");
                    await closing;
                    Assert.Equal(WebSocketState.Closed, accepted.State, "server side Closed once CloseAsync completed");
                    Assert.Equal(WebSocketCloseStatus.PolicyViolation, accepted.CloseStatus, "server side CloseStatus");
                }
            }
        }

        static async Task ServerSideReceiveEcho()
        {
            var done = new TaskCompletionSource<int>();
            using (var server = AcceptingServer(c => Task.Run(async () =>
            {
                // Server side: a plain WebSocket echo loop, parts and all, through a 5-byte buffer.
                WebSocket ws = c;
                var buffer = new byte[5];
                int messages = 0;
                try
                {
                    while (true)
                    {
                        var r = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None);
                        if (r.MessageType == WebSocketMessageType.Close)
                            break;
                        await ws.SendAsync(new ArraySegment<byte>(buffer, 0, r.Count), r.MessageType, r.EndOfMessage, CancellationToken.None);
                        if (r.EndOfMessage)
                            messages++;
                    }
                    done.TrySetResult(messages);
                }
                catch (Exception e)
                {
                    done.TrySetException(e);
                }
            })))
            {
                using (var client = await Connect(new Uri("ws://127.0.0.1:" + server.Port + "/")))
                {
                    var big = Pattern(300000, 3);
                    await client.SendAsync("short", CancellationToken.None);
                    await client.SendAsync(new ArraySegment<byte>(big), WebSocketMessageType.Binary, CancellationToken.None);
                    await client.SendAsync("", CancellationToken.None);
                    Assert.Equal("short", (await client.ReceiveAsync(CancellationToken.None)).Text, "text echo");
                    var echo = await client.ReceiveAsync(CancellationToken.None);
                    Assert.Equal(WebSocketMessageType.Binary, echo.MessageType, "binary echo type");
                    Assert.Bytes(big, echo.Data, "300 000 bytes through a 5-byte buffer");
                    var empty = await client.ReceiveAsync(CancellationToken.None);
                    Assert.Equal(0, empty.Data.Length, "the empty message");
                    await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                }
                Assert.Equal(3, await done.Task, "the server echoed three messages and saw the close");
            }
        }

        static async Task AbortPendingReceive()
        {
            var serverSide = new TaskCompletionSource<WebSocket>();
            using (var server = AcceptingServer(c => serverSide.TrySetResult(c)))
            using (WebSocket client = await Connect(new Uri("ws://127.0.0.1:" + server.Port + "/")))
            {
                var accepted = await serverSide.Task;
                var pending = client.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None);
                await Task.Delay(50);
                Assert.True(!pending.IsCompleted, "ReceiveAsync waits");
                client.Abort();
                client.Abort();
                var e = await Assert.ThrowsAsync<WebSocketException>(() => pending, "the pending ReceiveAsync");
                Assert.Equal(WebSocketError.InvalidState, e.WebSocketErrorCode, "an aborted WebSocket is in an invalid state");
                Assert.Equal(WebSocketState.Aborted, client.State, "Aborted");
                await Assert.ThrowsAsync<WebSocketException>(
                    () => client.SendAsync(new ArraySegment<byte>(new byte[1]), WebSocketMessageType.Binary, true, CancellationToken.None), "SendAsync after Abort");
                // The server's reader sees the end (the library closed the connection).
                var seen = await accepted.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None)
                    .ContinueWith(t => t.IsFaulted ? "failed" : t.Result.MessageType.ToString());
                Assert.True(seen == "Close" || seen == "failed", "the server side ended: " + seen);
                // No close handshake: the transport dropped, 1006 on the server side.
                Assert.Equal(WebSocketState.Aborted, accepted.State, "server side over, not cleanly");
                Assert.Equal(false, ((WsxConnection)accepted).CloseWasClean, "not clean");
            }
        }

        static async Task DisposeDuringReceive(Peer python)
        {
            for (int i = 0; i < 20; i++)
            {
                var ws = await Connect(python.Url());
                var pending = ws.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None);
                if (i % 2 == 0)
                    await Task.Delay(5);
                ws.Dispose();
                var outcome = await pending.ContinueWith(t => t.Exception == null ? "completed" : t.Exception.InnerException.GetType().Name);
                Assert.Equal("WebSocketException", outcome, "a ReceiveAsync pending across Dispose fails with");
                Assert.Equal(WebSocketState.Aborted, ws.State, "state after Dispose");
                await Assert.ThrowsAsync<ObjectDisposedException>(() => ws.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None), "ReceiveAsync after Dispose");
                ws.Dispose();
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }
        }

        static async Task CaughtAsWebSocketException(Peer python)
        {
            // A refused TCP connection, caught the way ClientWebSocket code catches it.
            try
            {
                using (var ws = new WsxClient())
                    await ws.ConnectAsync(new Uri("ws://127.0.0.1:" + Ports.Unused() + "/"), CancellationToken.None);
                throw new Exception("connected to a port where nothing listens");
            }
            catch (WebSocketException e)
            {
                Assert.Equal(WebSocketError.Faulted, e.WebSocketErrorCode, "a failed connect is Faulted");
                Assert.Equal(WsxResult.Connect, WsxException.Of(e).Result, "the detail inside");
            }
            // A refused handshake: NotAWebSocket, with its HTTP status.
            try
            {
                using (var ws = new WsxClient())
                    await ws.ConnectAsync(python.Url("/refuse/404"), CancellationToken.None);
                throw new Exception("a refused handshake connected");
            }
            catch (WebSocketException e)
            {
                Assert.Equal(WebSocketError.NotAWebSocket, e.WebSocketErrorCode, "a refused handshake");
                Assert.Equal(404, WsxException.Of(e).HttpStatus, "its HTTP status");
            }
            // Sending after close: InvalidState, as ClientWebSocket.
            using (var ws = await Connect(python.Url()))
            {
                await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                try
                {
                    await ws.SendAsync(new ArraySegment<byte>(new byte[1]), WebSocketMessageType.Binary, true, CancellationToken.None);
                    throw new Exception("sent on a closed WebSocket");
                }
                catch (WebSocketException e)
                {
                    Assert.Equal(WebSocketError.InvalidState, e.WebSocketErrorCode, "a send after close");
                }
            }
        }

        static async Task OneDeliveryMode(Peer python)
        {
            // ReceiveAsync first: attaching a handler is refused (it would never see a message).
            using (var ws = await Connect(python.Url()))
            {
                var pending = ws.ReceiveAsync(new ArraySegment<byte>(new byte[64]), CancellationToken.None);
                Assert.Throws<InvalidOperationException>(() => ws.MessageReceived += (s, e) => { }, "a handler after ReceiveAsync");
                await ws.SendAsync("still read by ReceiveAsync", CancellationToken.None);
                var r = await pending;
                Assert.Equal(26, r.Count, "the pending ReceiveAsync got the message");
                await Assert.ThrowsAsync<InvalidOperationException>(() =>
                {
                    var second = ws.ReceiveAsync(new ArraySegment<byte>(new byte[64]), CancellationToken.None);
                    var third = ws.ReceiveAsync(new ArraySegment<byte>(new byte[64]), CancellationToken.None);
                    return Task.WhenAll(second, third);
                }, "two ReceiveAsync at once");
                await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
            }
            // A handler first: it gets every message, ReceiveAsync is refused, Closed follows the last message.
            using (var ws = await Connect(python.Url()))
            {
                var got = new List<string>();
                var closed = new TaskCompletionSource<string>();
                ws.MessageReceived += (s, e) => { lock (got) got.Add(e.Message.Text); };
                ws.Closed += (s, e) => { lock (got) closed.TrySetResult(string.Join(",", got) + " then " + (int)e.CloseStatus); };
                await Assert.ThrowsAsync<InvalidOperationException>(() => ws.ReceiveAsync(new ArraySegment<byte>(new byte[64]), CancellationToken.None), "ReceiveAsync with a handler");
                await Assert.ThrowsAsync<InvalidOperationException>(() => ws.ReceiveAsync(CancellationToken.None), "ReceiveAsync(token) with a handler");
                for (int i = 0; i < 5; i++)
                    await ws.SendAsync("m" + i, CancellationToken.None);
                await ws.SendAsync("close 4003 enough", CancellationToken.None);
                Assert.Equal("m0,m1,m2,m3,m4 then 4003", await closed.Task, "every message in order, then Closed");
            }
        }

        static async Task PingAndFlowControl(Peer python)
        {
            using (var ws = await Connect(python.Url()))
            {
                Assert.True(ws.RoundTripTime == null, "no round trip before a ping");
                ws.Ping(new byte[] { 1, 2, 3 });
                for (int i = 0; i < 200 && ws.RoundTripTime == null; i++)
                    await Task.Delay(10);
                Assert.True(ws.RoundTripTime != null && ws.RoundTripTime.Value >= TimeSpan.Zero, "the pong's round trip: " + ws.RoundTripTime);
                Assert.True(ws.BufferedAmount >= 0, "buffered amount");
                Assert.True(ws.Id != 0, "an id");
                Assert.True(ws.RemoteAddress != null && ws.RemoteAddress.StartsWith("127.0.0.1:", StringComparison.Ordinal), "peer address " + ws.RemoteAddress);
                ws.SetReadingPaused(true);
                await ws.SendAsync("held back", CancellationToken.None);
                var pending = ws.ReceiveAsync(CancellationToken.None);
                await Task.Delay(200);
                Assert.True(!pending.IsCompleted, "nothing is read while paused");
                ws.SetReadingPaused(false);
                Assert.Equal("held back", (await pending).Text, "read once resumed");
                await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                await Assert.ThrowsAsync<WsxException>(() => Task.Run(() => ws.Ping()), "a ping after close");
            }
        }

        static Task OptionDefaultsFromNative()
        {
            var c = new WsxClientOptions();
            var s = new WsxServerOptions();
            Assert.Equal(16L << 20, c.MaxMessageSize, "max message (16 MiB, as wsx_defaults_get says)");
            Assert.Equal(TimeSpan.FromSeconds(30), c.KeepAliveInterval, "keepalive interval");
            Assert.Equal(TimeSpan.FromSeconds(30), s.KeepAliveTimeout, "server keepalive timeout");
            Assert.Equal(TimeSpan.FromSeconds(10), c.ConnectTimeout, "connect timeout");
            Assert.Equal(10000L, s.MaxConnections, "max connections");
            Assert.Equal(1000L, s.MaxPendingHandshakes, "max pending handshakes");
            Assert.Equal(16L, c.ReceiveHighMessages, "inbox high mark");
            Assert.Equal("127.0.0.1", s.Host, "server host");
            Assert.True(c.Compression != null && s.Compression == null, "clients offer deflate, servers do not");
            Assert.True(c.NoDelay && c.AutoPong && c.VerifyCertificate, "nodelay, auto-pong, verification");
            // The library's validation, not the binding's: a low mark above the high mark.
            var bad = new WsxClientOptions { ReceiveLowMessages = 100 };
            var e = Assert.Throws<WsxException>(() => new WsxClient(bad).ConnectAsync(new Uri("ws://127.0.0.1:1/"), CancellationToken.None).GetAwaiter().GetResult(), "inbox marks");
            Assert.Equal(WsxResult.InvalidArgument, e.Result, "refused by the library");
            return Task.CompletedTask;
        }

        /// <summary>
        /// Mono uses Wsx.dll.config's dllmap (the examples run without LD_LIBRARY_PATH show it);
        /// .NET uses NativeLibraryResolver, whose probing is checked here by reflection (no dotnet here).
        /// </summary>
        static Task ResolverCandidates()
        {
            var resolver = typeof(WsxClient).Assembly.GetType("Wsx.NativeLibraryResolver", true);
            var rid = (string)resolver.GetMethod("Rid", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static).Invoke(null, null);
            Assert.True(rid == "linux-x64" || rid == "linux-arm64", "the runtime identifier: " + rid);
            var candidates = ((IEnumerable<string>)resolver.GetMethod("Candidates", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static)
                .Invoke(null, null)).ToList();
            var expected = Path.Combine(Path.GetDirectoryName(typeof(WsxClient).Assembly.Location), "runtimes", rid, "native", "libwsx.so");
            Assert.True(candidates.Contains(expected), "runtimes/<rid>/native/libwsx.so beside Wsx.dll is a candidate: " + string.Join(", ", candidates));
            Assert.True(File.Exists(expected), "and it is there");
            var config = File.ReadAllText(typeof(WsxClient).Assembly.Location + ".config");
            Assert.True(config.Contains("target=\"runtimes/" + rid + "/native/libwsx.so\""), "Wsx.dll.config maps wsx there for Mono");
            return Task.CompletedTask;
        }

        static async Task DeferredDecisions()
        {
            var seenTokens = new List<string>();
            using (var server = new WsxServer(new WsxServerOptions()))
            {
                server.Upgrading += (s, e) =>
                {
                    IEnumerable<string> token;
                    lock (seenTokens)
                        seenTokens.Add(e.Headers.TryGetValue("X-Token", out token) ? token.First() : "none");
                    var pending = e.Defer();
                    var path = e.Path;
                    Task.Run(async () =>
                    {
                        await Task.Delay(50);
                        using (pending)
                        {
                            if (path == "/no")
                                pending.Refuse(403, "not you", new[] { new KeyValuePair<string, string>("X-Why", "deferred") });
                            else
                                pending.Accept(null, new[] { new KeyValuePair<string, string>("X-Decided", "later") });
                        }
                    });
                };
                server.ClientConnected += (s, e) => Task.Run(async () =>
                {
                    WebSocket ws = e.Connection;
                    var buffer = new byte[64];
                    var r = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None);
                    await ws.SendAsync(new ArraySegment<byte>(buffer, 0, r.Count), r.MessageType, r.EndOfMessage, CancellationToken.None);
                });
                server.Start();
                var url = "ws://127.0.0.1:" + server.Port;
                using (var client = new WsxClient())
                {
                    // The client's attempt waits for a token fetched on another thread.
                    client.BeforeConnect += (s, e) =>
                    {
                        var pending = e.Defer();
                        Task.Run(async () =>
                        {
                            await Task.Delay(50);
                            using (pending)
                                pending.Proceed(new[] { new KeyValuePair<string, string>("X-Token", "fresh") });
                        });
                    };
                    await client.ConnectAsync(new Uri(url + "/ok"), CancellationToken.None);
                    Assert.Equal("later", client.HttpResponseHeaders["X-Decided"].First(), "the deferred accept's header");
                    await client.SendAsync("after a deferred accept", CancellationToken.None);
                    Assert.Equal("after a deferred accept", (await client.ReceiveAsync(CancellationToken.None)).Text, "echo");
                    await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                }
                var e2 = await Assert.ThrowsAsync<WsxException>(() => new WsxClient().ConnectAsync(new Uri(url + "/no"), CancellationToken.None), "a deferred refusal");
                Assert.Equal(403, e2.HttpStatus, "its status");
                lock (seenTokens)
                    Assert.Equal("fresh none", string.Join(" ", seenTokens), "the deferred attempt's header reached the server");
            }
        }

        /// <summary>Runs a program with LD_LIBRARY_PATH removed from its environment; returns its exit code and output.</summary>
        static Tuple<int, string> RunWithoutLibraryPath(string runtime, string exe, string arguments)
        {
            var info = new ProcessStartInfo(runtime, Quote(exe) + " " + arguments)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                // Another directory than the program's: nothing is found by the working directory.
                WorkingDirectory = Path.GetTempPath(),
            };
            info.EnvironmentVariables.Remove("LD_LIBRARY_PATH");
            info.EnvironmentVariables.Remove("WSX_NATIVE_LIBRARY");
            using (var process = Process.Start(info))
            {
                var stderr = process.StandardError.ReadToEndAsync();
                var stdout = process.StandardOutput.ReadToEnd();
                Assert.True(process.WaitForExit(60000), Path.GetFileName(exe) + " exited");
                return Tuple.Create(process.ExitCode, stdout + stderr.Result);
            }
        }

        static Task ClientWebSocketSample(Peer echo, string runtime, string dir, string sources)
        {
            // The two sources differ in exactly one line: the one that creates the socket.
            var wsx = File.ReadAllLines(Path.Combine(sources, "ClientWebSocketEcho.cs"));
            var stock = File.ReadAllLines(Path.Combine(dir, "ClientWebSocketEcho.Stock.cs"));
            Assert.Equal(stock.Length, wsx.Length, "same number of lines");
            var changed = Enumerable.Range(0, wsx.Length).Where(i => wsx[i] != stock[i]).ToList();
            Assert.Equal(1, changed.Count, "lines changed");
            Assert.True(stock[changed[0]].Contains("new ClientWebSocket()") && wsx[changed[0]].Contains("new Wsx.WsxClient()"), "the construction line");

            var args = echo.Url() + " hello \"a message longer than the 16-byte buffer of the sample\"";
            var overWsx = RunWithoutLibraryPath(runtime, Path.Combine(dir, "ClientWebSocketEcho.exe"), args);
            Assert.Equal(0, overWsx.Item1, "the wsx build's exit code (output: " + overWsx.Item2 + ")");
            Assert.True(overWsx.Item2.Contains("echo (Text, 4 part(s)): a message longer than the 16-byte buffer of the sample"), "the long echo came in parts: " + overWsx.Item2);
            var overStock = RunWithoutLibraryPath(runtime, Path.Combine(dir, "ClientWebSocketEcho.Stock.exe"), args);
            Assert.Equal(0, overStock.Item1, "ClientWebSocket's exit code (output: " + overStock.Item2 + ")");
            Assert.Equal(overStock.Item2, overWsx.Item2, "wsx prints what ClientWebSocket prints");
            return Task.CompletedTask;
        }

        static Task AnyWebSocketExample(string runtime, string dir)
        {
            var run = RunWithoutLibraryPath(runtime, Path.Combine(dir, "AnyWebSocket.exe"), "");
            Assert.Equal(0, run.Item1, "AnyWebSocket.exe's exit code (output: " + run.Item2 + ")");
            Assert.True(run.Item2.Contains("ok   100 000 bytes sent in 7 parts"), "its report: " + run.Item2);
            return Task.CompletedTask;
        }
    }
}
