using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>
    /// The C# binding's tests: a self-checking program run under Mono (or dotnet). Usage:
    /// <c>Tests.exe --echo-server PATH [--echo-server-args ARGS] --python PATH --peer-script PATH
    /// --chat-server PATH --chat-client ChatClient.exe --runtime MONO [--only NAME-PART]</c>.
    /// Prints one line per test and <c>N passed, M failed</c>; exits non-zero on any failure.
    /// </summary>
    internal static partial class Program
    {
        static int Main(string[] args)
        {
            if (args.Length == 1 && args[0] == ShutdownChildFlag)
                return ShutdownChild();
            var options = ParseArgs(args);
            var runner = new Runner(options.GetOrDefault("--only", null));
            using (var echo = new Peer("C echo server", options["--echo-server"], options.GetOrDefault("--echo-server-args", "--port 0")))
            using (var python = new Peer("websockets", options["--python"], "-u " + Quote(options["--peer-script"])))
            using (var pythonDeflate = new Peer("websockets with deflate", options["--python"], "-u " + Quote(options["--peer-script"]) + " --deflate"))
            using (var pythonOnIpv6 = new Peer("websockets on ::1", options["--python"], "-u " + Quote(options["--peer-script"]) + " --ipv6"))
            {
                foreach (var peer in new[] { echo, python })
                {
                    var p = peer;
                    runner.Run(p.Name + ": text and binary of 0 bytes to 16 MiB", () => EchoSizes(p));
                    runner.Run(p.Name + ": UTF-8 text", () => Utf8Text(p));
                    runner.Run(p.Name + ": client closes with a code and a description", () => ClientCloses(p, p == python));
                    runner.Run(p.Name + ": client closes without a status (Empty): a close frame without a code", () => ClientClosesWithoutStatus(p));
                    runner.Run(p.Name + ": concurrent SendAsync from several threads", () => ConcurrentSends(p));
                    runner.Run(p.Name + ": Dispose while connected, and twice", () => DisposeWhileConnected(p));
                }
                runner.Run("websockets: server closes with a code and a description", () => ServerCloses(python));
                runner.Run("websockets: subprotocols", () => SubProtocols(python));
                runner.Run("websockets: handshake refused with its HTTP status", () => HandshakeRefused(python));
                // Not against the C echo server: it drops an echo its own full send queue refuses.
                runner.Run("websockets: sends past the high-water mark wait, then go out in order", () => Backpressure(python));
                runner.Run("websockets: extra headers and Origin reach the server", () => RequestHeaders(python));
                runner.Run("C echo server: a cancelled ReceiveAsync leaves the next message in place", () => CancelledReceive(echo));
                runner.Run("C echo server: 10,000 messages with GC between batches", () => ManyMessagesWithGc(echo));
                runner.Run("C echo server: events raised on a SynchronizationContext", () => EventsOnContext(echo));
                runner.Run("C echo server: a throwing handler reaches the Error event", () => HandlerExceptionToError(echo));
                runner.Run("C echo server: Dispose from inside an event handler", () => DisposeInHandler(echo));
                WebSocketTests(runner, echo, python, options);
                CompressionTests(runner, pythonDeflate, python);
                StreamTests(runner, echo, python, pythonDeflate);
                ResilienceTests(runner, python, options["--echo-server"]);
                ResolverTests(runner, python, pythonOnIpv6);
                InlineTests(runner, echo);
            }
            using (var chat = new Peer("C chat server", options["--chat-server"], "--port 0"))
                runner.Run("examples: ChatClient.exe joins a room of the C chat_server", () => ChatClientJoinsRoom(chat, options["--runtime"], options["--chat-client"]));
            OptionsTests(runner);
            runner.Run("refused connection", RefusedConnection);
            runner.Run("bad URLs", BadUrls);
            runner.Run("handshake timeout and a cancelled ConnectAsync against a silent server", SilentServer);
            runner.Run("Dispose before connecting, and twice", DisposeUnconnected);
            runner.Run("server: several clients, messages, closes both ways", ServerWithClients);
            runner.Run("server: subprotocols and the Origin allow-list", ServerNegotiation);
            PubSubTests(runner);
            ClusterTests(runner);
            runner.Run("client: unread messages wait in the library's bounded inbox, nothing is lost", UnreadMessagesBounded);
            PaceTests(runner);
            runner.Run("wss: server certificate and key, client CA file, verification switch", Tls);
            ServerHttpTests(runner, options);
            TelemetryTests(runner);
            UnixSocketTests(runner);
            ReusePortTests(runner);
            LeakTests(runner);
            ShutdownTests(runner, options["--runtime"]);
            return runner.Finish();
        }

        static Dictionary<string, string> ParseArgs(string[] args)
        {
            var options = new Dictionary<string, string>();
            for (int i = 0; i + 1 < args.Length; i += 2)
                options[args[i]] = args[i + 1];
            foreach (var required in new[] { "--echo-server", "--python", "--peer-script", "--chat-server", "--chat-client", "--runtime" })
                if (!options.ContainsKey(required))
                    throw new ArgumentException("missing " + required);
            return options;
        }

        static string GetOrDefault(this Dictionary<string, string> options, string key, string fallback)
        {
            string value;
            return options.TryGetValue(key, out value) ? value : fallback;
        }

        static string Quote(string path)
        {
            return "\"" + path + "\"";
        }

        static async Task<WsxClient> Connect(Uri url, WsxClientOptions options = null)
        {
            var client = new WsxClient(options);
            await client.ConnectAsync(url, CancellationToken.None);
            Assert.Equal(WebSocketState.Open, client.State, "state after ConnectAsync");
            return client;
        }

        static byte[] Pattern(int length, int seed)
        {
            var data = new byte[length];
            uint x = (uint)seed * 2654435761u + 1;
            for (int i = 0; i < length; i++)
            {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                data[i] = (byte)x;
            }
            return data;
        }

        static readonly int[] Sizes = { 0, 1, 125, 126, 127, 65535, 65536, 1 << 20, 16 << 20 };

        static async Task EchoSizes(Peer peer)
        {
            using (var client = await Connect(peer.Url()))
            {
                foreach (var size in Sizes)
                {
                    var binary = Pattern(size, size);
                    await client.SendAsync(new ArraySegment<byte>(binary), WebSocketMessageType.Binary, CancellationToken.None);
                    var reply = await client.ReceiveAsync(CancellationToken.None);
                    Assert.Equal(WebSocketMessageType.Binary, reply.MessageType, "type of the " + size + "-byte binary echo");
                    Assert.Bytes(binary, reply.Data, size + "-byte binary echo");

                    var text = new string((char)('a' + size % 26), size);
                    await client.SendAsync(text, CancellationToken.None);
                    reply = await client.ReceiveAsync(CancellationToken.None);
                    Assert.Equal(WebSocketMessageType.Text, reply.MessageType, "type of the " + size + "-byte text echo");
                    Assert.True(reply.Text == text, size + "-byte text echo is equal");
                }
                // An offset slice of a bigger array sends just that slice.
                var whole = Pattern(1000, 7);
                await client.SendAsync(new ArraySegment<byte>(whole, 100, 300), WebSocketMessageType.Binary, CancellationToken.None);
                var slice = await client.ReceiveAsync(CancellationToken.None);
                Assert.Bytes(whole.Skip(100).Take(300).ToArray(), slice.Data, "slice echo");
                await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                Assert.Equal(WebSocketState.Closed, client.State, "state after CloseAsync");
            }
        }

        static async Task Utf8Text(Peer peer)
        {
            using (var client = await Connect(peer.Url()))
            {
                const string text = "héllo wörld ✓ 🎉 ñ 日本語";
                await client.SendAsync(text, CancellationToken.None);
                var reply = await client.ReceiveAsync(CancellationToken.None);
                Assert.Equal(WebSocketMessageType.Text, reply.MessageType, "type");
                Assert.Equal(text, reply.Text, "text");
                Assert.Bytes(Encoding.UTF8.GetBytes(text), reply.Data, "UTF-8 bytes");
            }
        }

        /// <summary>wsx answers a close with the peer's code only; websockets also echoes the reason.</summary>
        static async Task ClientCloses(Peer peer, bool peerEchoesReason)
        {
            using (var client = await Connect(peer.Url()))
            {
                var closed = new TaskCompletionSource<WsxClosedEventArgs>();
                client.Closed += (s, e) => closed.TrySetResult(e);
                var bad = await Assert.ThrowsAsync<WsxException>(
                    () => client.CloseAsync((WebSocketCloseStatus)1006, "", CancellationToken.None), "closing with 1006, which is never sent");
                Assert.Equal(WsxResult.InvalidArgument, bad.Result, "result code of a bad close code");
                bad = await Assert.ThrowsAsync<WsxException>(
                    () => client.CloseAsync(WebSocketCloseStatus.Empty, "why", CancellationToken.None), "Empty (no status) with a description");
                Assert.Equal(WsxResult.InvalidArgument, bad.Result, "no status carries no description");
                bad = await Assert.ThrowsAsync<WsxException>(
                    () => client.CloseAsync(WebSocketCloseStatus.NormalClosure, new string('x', 124), CancellationToken.None), "a 124-byte reason");
                Assert.Equal(WsxResult.InvalidArgument, bad.Result, "result code of a long reason");
                Assert.Equal(WebSocketState.Open, client.State, "still open after refused closes");
                await client.CloseAsync((WebSocketCloseStatus)4000, "bye from C# ✓", CancellationToken.None);
                Assert.Equal(WebSocketState.Closed, client.State, "state");
                Assert.Equal((WebSocketCloseStatus)4000, client.CloseStatus, "close status echoed by the peer");
                if (peerEchoesReason)
                    Assert.Equal("bye from C# ✓", client.CloseStatusDescription, "description echoed by the peer");
                var e1 = await closed.Task;
                Assert.Equal((WebSocketCloseStatus)4000, e1.CloseStatus, "Closed event status");
                Assert.True(e1.Clean, "Closed event reports a clean close");
                var end = await client.ReceiveAsync(CancellationToken.None);
                Assert.Equal(WebSocketMessageType.Close, end.MessageType, "ReceiveAsync after the close");
                Assert.Equal((WebSocketCloseStatus)4000, end.CloseStatus, "its status");
                await Assert.ThrowsAsync<WsxException>(
                    () => client.SendAsync("too late", CancellationToken.None), "SendAsync after the close");
                // Closing again is harmless.
                await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                Assert.Equal((WebSocketCloseStatus)4000, client.CloseStatus, "status unchanged by a second CloseAsync");
            }
        }

        static async Task ClientClosesWithoutStatus(Peer peer)
        {
            using (var client = await Connect(peer.Url()))
            {
                await client.CloseAsync(WebSocketCloseStatus.Empty, "", CancellationToken.None);
                Assert.Equal(WebSocketState.Closed, client.State, "state");
                Assert.Equal(WebSocketCloseStatus.Empty, client.CloseStatus, "the peer answered without a status too");
                Assert.True(client.CloseWasClean == true, "a clean close");
            }
        }

        static async Task ServerCloses(Peer peer)
        {
            using (var client = await Connect(peer.Url()))
            {
                var closed = new TaskCompletionSource<WsxClosedEventArgs>();
                client.Closed += (s, e) => closed.TrySetResult(e);
                await client.SendAsync("close 4001 going away now ✓", CancellationToken.None);
                var end = await client.ReceiveAsync(CancellationToken.None);
                Assert.Equal(WebSocketMessageType.Close, end.MessageType, "message type");
                Assert.Equal((WebSocketCloseStatus)4001, end.CloseStatus, "status in the close message");
                Assert.Equal("going away now ✓", end.CloseStatusDescription, "description in the close message");
                var args = await closed.Task;
                Assert.Equal((WebSocketCloseStatus)4001, args.CloseStatus, "Closed event status");
                Assert.Equal("going away now ✓", args.CloseStatusDescription, "Closed event description");
                Assert.Equal(WebSocketState.Closed, client.State, "state");
                Assert.Equal((WebSocketCloseStatus)4001, client.CloseStatus, "CloseStatus");
                Assert.Equal("going away now ✓", client.CloseStatusDescription, "CloseStatusDescription");
            }
        }

        static async Task SubProtocols(Peer peer)
        {
            var cases = new[]
            {
                new { Offer = new string[0], Expect = (string)null },
                new { Offer = new[] { "chat.v1" }, Expect = "chat.v1" },
                new { Offer = new[] { "nope", "chat.v1", "chat.v2" }, Expect = "chat.v2" },
            };
            foreach (var c in cases)
            {
                var options = new WsxClientOptions();
                foreach (var p in c.Offer)
                    options.AddSubProtocol(p);
                using (var client = await Connect(peer.Url(), options))
                    Assert.Equal(c.Expect, client.SubProtocol, "subprotocol for [" + string.Join(",", c.Offer) + "]");
            }
        }

        static async Task HandshakeRefused(Peer peer)
        {
            foreach (var status in new[] { 403, 404 })
            {
                using (var client = new WsxClient())
                {
                    var e = await Assert.ThrowsAsync<WsxException>(
                        () => client.ConnectAsync(peer.Url("/refuse/" + status), CancellationToken.None), "refused handshake");
                    Assert.Equal(WsxResult.Handshake, e.Result, "result code");
                    Assert.Equal((int?)status, e.HttpStatus, "HTTP status");
                    Assert.True(e.Message.Contains(status.ToString()), "message names the status: " + e.Message);
                    Assert.True(client.State == WebSocketState.Closed || client.State == WebSocketState.Aborted,
                        "state after a refusal: " + client.State);
                }
            }
        }

        static async Task RequestHeaders(Peer peer)
        {
            var options = new WsxClientOptions { Origin = "https://game.example" };
            options.SetRequestHeader("X-Wsx-Test", "value: with a colon");
            options.SetRequestHeader("Authorization", "Bearer 123");
            using (var client = await Connect(peer.Url("/headers"), options))
            {
                var headers = (await client.ReceiveAsync(CancellationToken.None)).Text.Split('\n');
                Assert.True(headers.Contains("origin: https://game.example"), "Origin header in " + string.Join(" | ", headers));
                Assert.True(headers.Contains("x-wsx-test: value: with a colon"), "extra header");
                Assert.True(headers.Contains("authorization: Bearer 123"), "Authorization header");
            }
            var bad = new WsxClientOptions();
            bad.SetRequestHeader("X-Evil", "a\r\nInjected: yes");
            using (var client = new WsxClient(bad))
            {
                var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(peer.Url(), CancellationToken.None), "header with a line break");
                Assert.Equal(WsxResult.InvalidArgument, e.Result, "result code");
            }
        }

        static async Task Backpressure(Peer peer)
        {
            using (var client = await Connect(peer.Url()))
            {
                // Three 16 MiB messages at once pass the 17 MiB high-water mark: the later sends wait
                // for the queue to drain instead of failing.
                var messages = Enumerable.Range(1, 3).Select(i => Pattern(16 << 20, i)).ToArray();
                var sends = messages.Select(m => client.SendAsync(new ArraySegment<byte>(m), WebSocketMessageType.Binary, CancellationToken.None)).ToArray();
                foreach (var m in messages)
                    Assert.Bytes(m, (await client.ReceiveAsync(CancellationToken.None)).Data, "echo of a 16 MiB message");
                await Task.WhenAll(sends);
            }
        }

        static async Task CancelledReceive(Peer peer)
        {
            using (var client = await Connect(peer.Url()))
            {
                using (var cts = new CancellationTokenSource())
                {
                    var waiting = client.ReceiveAsync(cts.Token);
                    cts.Cancel();
                    await Assert.ThrowsAsync<OperationCanceledException>(() => waiting, "the cancelled ReceiveAsync");
                    await Assert.ThrowsAsync<OperationCanceledException>(() => client.ReceiveAsync(cts.Token), "ReceiveAsync with a cancelled token");
                }
                await client.SendAsync("after the cancel", CancellationToken.None);
                Assert.Equal("after the cancel", (await client.ReceiveAsync(CancellationToken.None)).Text, "the next ReceiveAsync gets the message");
            }
        }

        /// <summary>A TCP server that accepts and never answers: the handshake can only time out or be cancelled.</summary>
        static async Task SilentServer()
        {
            var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            listener.Start();
            try
            {
                var url = new Uri("ws://127.0.0.1:" + ((System.Net.IPEndPoint)listener.LocalEndpoint).Port + "/");
                var options = new WsxClientOptions { HandshakeTimeout = TimeSpan.FromMilliseconds(300) };
                using (var client = new WsxClient(options))
                {
                    var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(url, CancellationToken.None), "silent server");
                    Assert.Equal(WsxResult.Timeout, e.Result, "result code");
                }
                using (var client = new WsxClient())
                using (var cts = new CancellationTokenSource())
                {
                    var connecting = client.ConnectAsync(url, cts.Token);
                    cts.Cancel();
                    await Assert.ThrowsAsync<OperationCanceledException>(() => connecting, "cancelled ConnectAsync");
                    Assert.Equal(WebSocketState.Aborted, client.State, "state after the cancel");
                }
                var zero = Assert.Throws<WsxException>(
                    () => new WsxClient(new WsxClientOptions { CloseTimeout = TimeSpan.Zero }).ConnectAsync(url, CancellationToken.None).GetAwaiter().GetResult(),
                    "a zero close timeout");
                Assert.Equal(WsxResult.InvalidArgument, zero.Result, "the library's rule");
            }
            finally
            {
                listener.Stop();
            }
        }

        static async Task RefusedConnection()
        {
            using (var client = new WsxClient())
            {
                var url = new Uri("ws://127.0.0.1:" + Ports.Unused() + "/");
                var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(url, CancellationToken.None), "refused connection");
                Assert.Equal(WsxResult.Connect, e.Result, "result code");
                Assert.Equal(null, e.HttpStatus, "no HTTP status");
                await Assert.ThrowsAsync<InvalidOperationException>(
                    () => client.ConnectAsync(url, CancellationToken.None), "ConnectAsync twice");
            }
        }

        static async Task BadUrls()
        {
            foreach (var url in new[] { "http://127.0.0.1:80/", "ftp://example.invalid/", "ws://127.0.0.1:99999/" })
            {
                using (var client = new WsxClient())
                {
                    Uri uri;
                    if (!Uri.TryCreate(url, UriKind.Absolute, out uri))
                        continue; // System.Uri refuses it already
                    var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(uri, CancellationToken.None), "bad URL " + url);
                    Assert.Equal(WsxResult.InvalidArgument, e.Result, "result code for " + url);
                }
            }
            using (var client = new WsxClient())
            {
                await Assert.ThrowsAsync<ArgumentNullException>(() => client.ConnectAsync(null, CancellationToken.None), "null URL");
                await Assert.ThrowsAsync<ArgumentException>(
                    () => client.ConnectAsync(new Uri("/relative", UriKind.Relative), CancellationToken.None), "relative URL");
            }
        }

        static async Task ConcurrentSends(Peer peer)
        {
            const int threads = 8, perThread = 250;
            using (var client = await Connect(peer.Url()))
            {
                var start = new Barrier(threads);
                var senders = Enumerable.Range(0, threads).Select(t => Task.Factory.StartNew(() =>
                {
                    start.SignalAndWait();
                    for (int i = 0; i < perThread; i++)
                    {
                        var payload = Encoding.UTF8.GetBytes(t + ":" + i);
                        var type = i % 2 == 0 ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
                        client.SendAsync(new ArraySegment<byte>(payload), type, CancellationToken.None).GetAwaiter().GetResult();
                    }
                }, TaskCreationOptions.LongRunning)).ToArray();

                var next = new int[threads];
                for (int n = 0; n < threads * perThread; n++)
                {
                    var m = await client.ReceiveAsync(CancellationToken.None);
                    var parts = m.Text.Split(':');
                    int t = int.Parse(parts[0]), i = int.Parse(parts[1]);
                    Assert.Equal(next[t], i, "order of thread " + t + "'s messages");
                    Assert.Equal(i % 2 == 0 ? WebSocketMessageType.Text : WebSocketMessageType.Binary, m.MessageType, "type of " + m.Text);
                    next[t]++;
                }
                await Task.WhenAll(senders);
                Assert.True(next.All(n => n == perThread), "every message of every thread came back");
            }
        }

        static async Task ManyMessagesWithGc(Peer peer)
        {
            const int batches = 100, perBatch = 100;
            using (var client = await Connect(peer.Url()))
            {
                for (int b = 0; b < batches; b++)
                {
                    for (int i = 0; i < perBatch; i++)
                        await client.SendAsync(new ArraySegment<byte>(Pattern(i, b * perBatch + i)), WebSocketMessageType.Binary, CancellationToken.None);
                    for (int i = 0; i < perBatch; i++)
                    {
                        var m = await client.ReceiveAsync(CancellationToken.None);
                        Assert.Bytes(Pattern(i, b * perBatch + i), m.Data, "message " + (b * perBatch + i));
                    }
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                }
                await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            }
            // And through the events path (a connection of its own: one delivery mode per
            // connection), collecting while messages are in flight.
            using (var client = await Connect(peer.Url()))
            {
                var received = new BlockingCollection<WsxMessage>();
                client.MessageReceived += (s, e) => received.Add(e.Message);
                for (int i = 0; i < 1000; i++)
                {
                    await client.SendAsync(i.ToString(), CancellationToken.None);
                    if (i % 100 == 0)
                    {
                        GC.Collect();
                        GC.WaitForPendingFinalizers();
                    }
                }
                for (int i = 0; i < 1000; i++)
                {
                    WsxMessage m;
                    Assert.True(received.TryTake(out m, TimeSpan.FromSeconds(60)), "event message " + i + " arrived");
                    Assert.Equal(i.ToString(), m.Text, "event message " + i);
                }
                await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            }
        }

        static async Task EventsOnContext(Peer peer)
        {
            using (var context = new SingleThreadContext())
            {
                var options = new WsxClientOptions { SynchronizationContext = context };
                using (var client = new WsxClient(options))
                {
                    var seen = new BlockingCollection<string>();
                    client.MessageReceived += (s, e) =>
                        seen.Add((Thread.CurrentThread == context.Thread ? "ctx " : "other ") + e.Message.Text);
                    client.Closed += (s, e) =>
                        seen.Add((Thread.CurrentThread == context.Thread ? "ctx " : "other ") + "closed " + (int)e.CloseStatus);
                    await client.ConnectAsync(peer.Url(), CancellationToken.None);
                    for (int i = 0; i < 20; i++)
                        await client.SendAsync("m" + i, CancellationToken.None);
                    await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                    var expected = Enumerable.Range(0, 20).Select(i => "ctx m" + i).Concat(new[] { "ctx closed 1000" });
                    foreach (var e in expected)
                    {
                        string got;
                        Assert.True(seen.TryTake(out got, TimeSpan.FromSeconds(60)), "event " + e + " was raised");
                        Assert.Equal(e, got, "event on the context, in order");
                    }
                }
            }
        }

        static async Task HandlerExceptionToError(Peer peer)
        {
            using (var client = new WsxClient())
            {
                var error = new TaskCompletionSource<WsxErrorEventArgs>();
                client.MessageReceived += (s, e) => { throw new InvalidOperationException("handler bug: " + e.Message.Text); };
                client.Error += (s, e) => error.TrySetResult(e);
                await client.ConnectAsync(peer.Url(), CancellationToken.None);
                await client.SendAsync("boom", CancellationToken.None);
                var reported = await error.Task;
                Assert.True(reported.Exception is InvalidOperationException, "the handler's exception: " + reported.Exception);
                Assert.Equal("handler bug: boom", reported.Exception.Message, "its message");
                Assert.True(ReferenceEquals(client, reported.Connection), "the connection");
                // The connection lives on.
                await client.SendAsync("still here", CancellationToken.None);
                Assert.Equal(WebSocketState.Open, client.State, "state after a handler threw");
            }
        }

        static async Task DisposeInHandler(Peer peer)
        {
            var client = new WsxClient();
            var disposed = new TaskCompletionSource<WebSocketState>();
            client.MessageReceived += (s, e) =>
            {
                client.Dispose();
                disposed.TrySetResult(client.State);
            };
            var closedEvents = 0;
            client.Closed += (s, e) => Interlocked.Increment(ref closedEvents);
            await client.ConnectAsync(peer.Url(), CancellationToken.None);
            await client.SendAsync("dispose me", CancellationToken.None);
            Assert.Equal(WebSocketState.Aborted, await disposed.Task, "state inside the handler after Dispose");
            await Assert.ThrowsAsync<ObjectDisposedException>(() => client.SendAsync("x", CancellationToken.None), "SendAsync after");
            client.Dispose();
            // The loop lives on: a new client on the same loop still works, after the old one's close ran.
            using (var again = await Connect(peer.Url()))
            {
                await again.SendAsync("still serving", CancellationToken.None);
                Assert.Equal("still serving", (await again.ReceiveAsync(CancellationToken.None)).Text, "echo on a new client");
            }
            Assert.Equal(0, Volatile.Read(ref closedEvents), "no Closed event after Dispose");
        }

        static async Task DisposeWhileConnected(Peer peer)
        {
            var client = await Connect(peer.Url());
            var pending = client.ReceiveAsync(CancellationToken.None);
            client.Dispose();
            // As a WebSocket's: the pending receive fails with a WebSocketException (InvalidState), later calls with ObjectDisposedException.
            var aborted = await Assert.ThrowsAsync<WebSocketException>(() => pending, "a pending ReceiveAsync");
            Assert.Equal(WebSocketError.InvalidState, aborted.WebSocketErrorCode, "its error");
            Assert.Equal(WebSocketState.Aborted, client.State, "state after Dispose");
            await Assert.ThrowsAsync<ObjectDisposedException>(() => client.SendAsync("x", CancellationToken.None), "SendAsync after Dispose");
            await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ReceiveAsync(CancellationToken.None), "ReceiveAsync after Dispose");
            client.Dispose();
            Assert.Equal(WebSocketState.Aborted, client.State, "state after a second Dispose");
            // The peer still serves new clients.
            using (var again = await Connect(peer.Url()))
            {
                await again.SendAsync("alive", CancellationToken.None);
                Assert.Equal("alive", (await again.ReceiveAsync(CancellationToken.None)).Text, "echo after a disposed client");
            }
        }

        static async Task DisposeUnconnected()
        {
            var client = new WsxClient();
            Assert.Equal(WebSocketState.None, client.State, "state before connecting");
            client.Dispose();
            client.Dispose();
            await Assert.ThrowsAsync<ObjectDisposedException>(
                () => client.ConnectAsync(new Uri("ws://127.0.0.1:1/"), CancellationToken.None), "ConnectAsync after Dispose");
            var server = new WsxServer(new WsxServerOptions());
            server.Dispose();
            server.Dispose();
            Assert.Throws<ObjectDisposedException>(() => server.Start(), "Start after Dispose");
        }

        static async Task ServerWithClients()
        {
            const int count = 5;
            using (var server = new WsxServer(new WsxServerOptions()))
            {
                var connected = new BlockingCollection<WsxConnection>();
                var disconnected = new BlockingCollection<WsxClosedEventArgs>();
                server.ClientConnected += (s, e) => connected.Add(e.Connection);
                server.ClientDisconnected += (s, e) => disconnected.Add(e);
                server.MessageReceived += (s, e) =>
                {
                    var m = e.Message;
                    var reply = m.MessageType == WebSocketMessageType.Text
                        ? e.Connection.SendAsync("server got " + m.Text, CancellationToken.None)
                        : e.Connection.SendAsync(new ArraySegment<byte>(m.Data.Reverse().ToArray()), WebSocketMessageType.Binary, CancellationToken.None);
                    reply.Wait();
                };
                server.Start();
                Assert.True(server.Port > 0, "a port was picked: " + server.Port);
                var url = new Uri("ws://127.0.0.1:" + server.Port + "/");

                var clients = new List<WsxClient>();
                for (int i = 0; i < count; i++)
                    clients.Add(await Connect(url));
                var serverSide = new List<WsxConnection>();
                for (int i = 0; i < count; i++)
                {
                    WsxConnection c;
                    Assert.True(connected.TryTake(out c, TimeSpan.FromSeconds(60)), "ClientConnected " + i);
                    Assert.Equal(WebSocketState.Open, c.State, "server-side state");
                    serverSide.Add(c);
                }
                for (int i = 0; i < count; i++)
                {
                    await clients[i].SendAsync("hello " + i, CancellationToken.None);
                    await clients[i].SendAsync(new ArraySegment<byte>(new byte[] { 1, 2, (byte)i }), WebSocketMessageType.Binary, CancellationToken.None);
                }
                for (int i = 0; i < count; i++)
                {
                    Assert.Equal("server got hello " + i, (await clients[i].ReceiveAsync(CancellationToken.None)).Text, "text reply to client " + i);
                    Assert.Bytes(new byte[] { (byte)i, 2, 1 }, (await clients[i].ReceiveAsync(CancellationToken.None)).Data, "binary reply to client " + i);
                }

                // The server closes one client...
                await serverSide[0].CloseAsync((WebSocketCloseStatus)4002, "server says bye", CancellationToken.None);
                var end = await clients[0].ReceiveAsync(CancellationToken.None);
                Assert.Equal((WebSocketCloseStatus)4002, end.CloseStatus, "client sees the server's code");
                Assert.Equal("server says bye", end.CloseStatusDescription, "client sees the server's reason");
                WsxClosedEventArgs gone;
                Assert.True(disconnected.TryTake(out gone, TimeSpan.FromSeconds(60)), "ClientDisconnected after the server's close");
                Assert.True(ReferenceEquals(serverSide[0], gone.Connection), "for that connection");
                Assert.Equal((WebSocketCloseStatus)4002, gone.CloseStatus, "with its code");
                Assert.Equal(WebSocketState.Closed, serverSide[0].State, "server-side state after the close");

                // ...the others close themselves.
                for (int i = 1; i < count; i++)
                    await clients[i].CloseAsync((WebSocketCloseStatus)4003, "client " + i + " leaves", CancellationToken.None);
                var reasons = new HashSet<string>();
                for (int i = 1; i < count; i++)
                {
                    Assert.True(disconnected.TryTake(out gone, TimeSpan.FromSeconds(60)), "ClientDisconnected " + i);
                    Assert.Equal((WebSocketCloseStatus)4003, gone.CloseStatus, "the client's code");
                    reasons.Add(gone.CloseStatusDescription);
                }
                Assert.True(Enumerable.Range(1, count - 1).All(i => reasons.Contains("client " + i + " leaves")), "every client's reason");
                foreach (var c in clients)
                    c.Dispose();
                await Assert.ThrowsAsync<WsxException>(() => serverSide[1].SendAsync("gone", CancellationToken.None), "send to a closed server connection");
            }
        }

        static async Task UnreadMessagesBounded()
        {
            using (var server = new WsxServer(new WsxServerOptions()))
            {
                var sent = new TaskCompletionSource<bool>();
                server.ClientConnected += (s, e) => Task.Run(async () =>
                {
                    for (int i = 0; i < 50; i++)
                        await e.Connection.SendAsync("message " + i, CancellationToken.None);
                    sent.TrySetResult(true);
                });
                server.Start();
                // The library's inbox holds at most 2 unread messages, then stops reading the socket.
                var options = new WsxClientOptions { ReceiveHighMessages = 2, ReceiveLowMessages = 1 };
                using (var client = await Connect(new Uri("ws://127.0.0.1:" + server.Port + "/"), options))
                {
                    await sent.Task;
                    await Task.Delay(300);
                    Assert.True(client.ReceiveQueueLength <= 2, "the inbox stays at its high mark: " + client.ReceiveQueueLength);
                    for (int i = 0; i < 50; i++)
                        Assert.Equal("message " + i, (await client.ReceiveAsync(CancellationToken.None)).Text, "every message, in order, once read");
                    Assert.Equal(0L, client.ReceiveQueueLength, "nothing left");
                    await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                }
            }
        }

        static async Task Tls()
        {
            using (var certificates = new TestCertificates())
            {
                var options = new WsxServerOptions { CertificateFile = certificates.CertificateFile, KeyFile = certificates.KeyFile };
                using (var server = new WsxServer(options))
                {
                    server.MessageReceived += (s, e) => e.Connection.SendAsync("over TLS: " + e.Message.Text, CancellationToken.None);
                    server.Start();
                    var named = new Uri("wss://localhost:" + server.Port + "/");
                    var byAddress = new Uri("wss://127.0.0.1:" + server.Port + "/");
                    using (var client = await Connect(named, new WsxClientOptions { CaFile = certificates.CaFile }))
                    {
                        await client.SendAsync("hi", CancellationToken.None);
                        Assert.Equal("over TLS: hi", (await client.ReceiveAsync(CancellationToken.None)).Text, "echo over wss");
                    }
                    using (var client = new WsxClient())
                    {
                        var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(named, CancellationToken.None), "unknown CA");
                        Assert.Equal(WsxResult.Tls, e.Result, "result code without the CA");
                    }
                    using (var client = new WsxClient(new WsxClientOptions { CaFile = certificates.CaFile }))
                    {
                        var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(byAddress, CancellationToken.None), "an address the certificate does not name");
                        Assert.Equal(WsxResult.Tls, e.Result, "result code for a name mismatch");
                    }
                    using (var client = await Connect(byAddress, new WsxClientOptions { VerifyCertificate = false }))
                    {
                        await client.SendAsync("unverified", CancellationToken.None);
                        Assert.Equal("over TLS: unverified", (await client.ReceiveAsync(CancellationToken.None)).Text, "echo without verification");
                    }
                }
            }
        }

        static async Task ServerNegotiation()
        {
            var options = new WsxServerOptions { AllowedOrigins = new List<string> { "https://good.example" } };
            options.SubProtocols.Add("chat.v2");
            options.SubProtocols.Add("chat.v1");
            using (var server = new WsxServer(options))
            {
                server.Start();
                var url = new Uri("ws://127.0.0.1:" + server.Port + "/");
                var good = new WsxClientOptions { Origin = "https://good.example" };
                good.AddSubProtocol("chat.v1");
                using (var client = await Connect(url, good))
                    Assert.Equal("chat.v1", client.SubProtocol, "negotiated subprotocol");
                var bad = new WsxClientOptions { Origin = "https://evil.example" };
                using (var client = new WsxClient(bad))
                {
                    var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(url, CancellationToken.None), "bad origin");
                    Assert.Equal((int?)403, e.HttpStatus, "HTTP status for a bad origin");
                }
            }
        }
    }
}
