using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>Client resilience: reconnecting with backoff, the hooks around attempts, proxies.</summary>
    internal static partial class Program
    {
        static void ResilienceTests(Runner runner, Peer python, string echoServer)
        {
            runner.Run("reconnect: the C echo server restarted by SIGTERM (1001); the client comes back", () => ReconnectAcrossGracefulRestart(echoServer));
            runner.Run("reconnect: RetryCloseCodes without 1012 ends the client on a 1012 close", () => ReconnectCodesChosen(python));
            runner.Run("reconnect: websockets drops with 1012; backoff, events, a token per attempt", () => ReconnectWithPython(python));
            runner.Run("reconnect: WsxServer drops; re-subscribe on open, sends refused while down", ReconnectResubscribes);
            runner.Run("reconnect: sends queued while down go out on the next connection", ReconnectQueuesSends);
            runner.Run("reconnect: gives up after MaxAttempts, and not after a 4xx refusal", () => ReconnectGivesUp(python));
            runner.Run("reconnect: CloseAsync and Dispose during the wait for the next attempt", () => ReconnectStoppedWhileWaiting(python));
            runner.Run("server: the Upgrading hook refuses, picks a subprotocol, sets cookies; the request on the connection", ServerUpgradeHook);
            runner.Run("proxy: ws:// and wss:// through an HTTP CONNECT proxy, and each failing hop", ProxyConnect);
            runner.Run("proxy: ws:// and wss:// through a SOCKS5 proxy, with and without credentials, and failures", ProxySocks5);
            runner.Run("proxy: from the environment, with no_proxy", ProxyFromEnvironment);
        }

        /// <summary>What a client's resilience events said, in order, as text.</summary>
        sealed class ClientEvents
        {
            internal readonly BlockingCollection<string> Log = new BlockingCollection<string>();

            internal ClientEvents(WsxClient client)
            {
                client.Connecting += (s, e) => Log.Add("connecting " + e.Attempt + " " + (long)e.Delay.TotalMilliseconds);
                client.Connected += (s, e) => Log.Add("connected " + (e.IsReconnect ? "again" : "first"));
                client.Disconnected += (s, e) => Log.Add("disconnected " + (int)e.CloseStatus);
                client.Closed += (s, e) => Log.Add("closed " + (int)e.CloseStatus);
            }

            /// <summary>Takes the next events and checks they are <paramref name="expected"/>.</summary>
            internal void Expect(params string[] expected)
            {
                foreach (var e in expected)
                    Assert.Equal(e, Take(Log, "event " + e), "the next event");
            }
        }

        /// <summary>A policy that waits exactly 10, 20, 40, 40, ... ms.</summary>
        static WsxReconnectPolicy FastPolicy()
        {
            return new WsxReconnectPolicy
            {
                InitialDelay = TimeSpan.FromMilliseconds(10),
                MaxDelay = TimeSpan.FromMilliseconds(40),
                Jitter = false,
            };
        }

        /// <summary>
        /// The server stopped by SIGTERM closes with 1001 (going away); the client reconnects by
        /// itself to a new server on the same port and echoes there.
        /// </summary>
        static async Task ReconnectAcrossGracefulRestart(string echoServer)
        {
            Peer first = new Peer("C echo server", echoServer, "--port 0");
            Peer second = null;
            try
            {
                using (var client = new WsxClient(new WsxClientOptions { Reconnect = FastPolicy() }))
                {
                    var events = new ClientEvents(client);
                    await client.ConnectAsync(first.Url(), CancellationToken.None);
                    events.Expect("connecting 0 0", "connected first");
                    await client.SendAsync("before", CancellationToken.None);
                    Assert.Equal("before", (await client.ReceiveAsync(CancellationToken.None)).Text, "the first server's echo");
                    Assert.Equal(0, first.Terminate(), "the echo server's exit status after SIGTERM");
                    events.Expect("disconnected 1001");
                    second = new Peer("C echo server again", echoServer, "--port " + first.Port);
                    string e;
                    do
                        e = Take(events.Log, "connected again, after attempts");
                    // Attempts before the second server listens fail: each is a "disconnected 1006".
                    while (e.StartsWith("connecting ", StringComparison.Ordinal) || e == "disconnected 1006");
                    Assert.Equal("connected again", e, "the event after the attempts");
                    await client.SendAsync("after", CancellationToken.None);
                    Assert.Equal("after", (await client.ReceiveAsync(CancellationToken.None)).Text, "the new server's echo");
                }
            }
            finally
            {
                first.Dispose();
                if (second != null)
                    second.Dispose();
            }
        }

        static async Task ReconnectCodesChosen(Peer peer)
        {
            Assert.Equal("1001 1006 1011 1012 1013 1014", string.Join(" ", WsxReconnectPolicy.DefaultRetryCloseCodes), "the default codes");
            var policy = FastPolicy();
            policy.RetryCloseCodes = new[] { 1001, 1006 };
            using (var client = new WsxClient(new WsxClientOptions { Reconnect = policy }))
            {
                var events = new ClientEvents(client);
                await client.ConnectAsync(peer.Url("/headers"), CancellationToken.None);
                events.Expect("connecting 0 0", "connected first");
                await client.ReceiveAsync(CancellationToken.None);
                await client.SendAsync("close 1012 restarting", CancellationToken.None);
                events.Expect("closed 1012");
            }
            policy.RetryCloseCodes = new[] { 999 };
            using (var client = new WsxClient(new WsxClientOptions { Reconnect = policy }))
                await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.ConnectAsync(peer.Url("/"), CancellationToken.None), "a code below 1000");
        }

        static async Task ReconnectWithPython(Peer peer)
        {
            var options = new WsxClientOptions { Reconnect = FastPolicy() };
            options.SetRequestHeader("Authorization", "from the options");
            using (var client = new WsxClient(options))
            {
                var events = new ClientEvents(client);
                int attempts = 0;
                client.BeforeConnect += (s, e) => e.SetRequestHeader("authorization", "Bearer token-" + Interlocked.Increment(ref attempts));
                await client.ConnectAsync(peer.Url("/headers"), CancellationToken.None);
                events.Expect("connecting 0 0", "connected first");
                for (int n = 1; n <= 3; n++)
                {
                    var headers = (await client.ReceiveAsync(CancellationToken.None)).Text.Split('\n');
                    Assert.True(headers.Contains("authorization: Bearer token-" + n), "attempt " + n + "'s token replaced the options' header: " + string.Join(" | ", headers));
                    Assert.Equal(1, headers.Count(h => h.StartsWith("authorization:", StringComparison.Ordinal)), "one Authorization header");
                    if (n == 3)
                        break;
                    // The hooks' delegates and the client's GCHandle survive collections.
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    await client.SendAsync("close 1012 restarting", CancellationToken.None);
                    events.Expect("disconnected 1012", "connecting " + n + " " + (10 << (n - 1)), "connected again");
                }
                Assert.Equal(WebSocketState.Open, client.State, "open after the reconnects");
                await client.SendAsync("still echoing", CancellationToken.None);
                Assert.Equal("still echoing", (await client.ReceiveAsync(CancellationToken.None)).Text, "echo after the reconnects");
                // A normal close by the peer is not retried.
                await client.SendAsync("close 1000 done", CancellationToken.None);
                events.Expect("closed 1000");
                Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus, "the final close status");
                Assert.Equal(3, Volatile.Read(ref attempts), "one BeforeConnect per attempt");
            }
        }

        static async Task ReconnectResubscribes()
        {
            using (var server = new WsxServer(new WsxServerOptions()))
            {
                int accepted = 0;
                server.ClientConnected += (s, e) =>
                {
                    // A restarting service: the first two connections are told to come back.
                    if (Interlocked.Increment(ref accepted) <= 2)
                        e.Connection.CloseAsync((WebSocketCloseStatus)1012, "restart", CancellationToken.None);
                };
                server.MessageReceived += (s, e) =>
                {
                    // On a connection the server is closing this throws (to the Error event): no answer.
                    e.Connection.Subscribe(e.Message.Text);
                    e.Connection.SendAsync("subscribed on connection " + Volatile.Read(ref accepted), CancellationToken.None);
                };
                server.Start();
                using (var client = new WsxClient(new WsxClientOptions { Reconnect = FastPolicy() }))
                {
                    var events = new ClientEvents(client);
                    var whileDown = new BlockingCollection<string>();
                    client.Connected += (s, e) => client.SendAsync("news", CancellationToken.None);
                    client.Disconnected += (s, e) =>
                    {
                        var send = client.SendAsync("lost", CancellationToken.None);
                        var error = send.IsFaulted ? WsxException.Of(send.Exception) : null;
                        whileDown.Add(client.State + " " + (error != null ? error.Result.ToString() : "sent"));
                    };
                    await client.ConnectAsync(new Uri("ws://127.0.0.1:" + server.Port + "/"), CancellationToken.None);
                    events.Expect("connecting 0 0", "connected first",
                                  "disconnected 1012", "connecting 1 10", "connected again",
                                  "disconnected 1012", "connecting 2 20", "connected again");
                    for (int i = 0; i < 2; i++)
                        Assert.Equal("Connecting NotConnected", Take(whileDown, "a send while down"), "state and the send's result between connections");
                    // Each connection subscribed on open (the dropped ones maybe not in time); wait for the last one's answer.
                    while ((await client.ReceiveAsync(CancellationToken.None)).Text != "subscribed on connection 3")
                    {
                    }
                    // A dropped connection leaves its topics when its close completes.
                    while (server.SubscriberCount("news") != 1)
                        await Task.Delay(10);
                    Assert.Equal(1, server.Publish("news", "after the restarts"), "the re-subscribed client is reached");
                    Assert.Equal("after the restarts", (await client.ReceiveAsync(CancellationToken.None)).Text, "the published message");
                    await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                    events.Expect("closed 1000");
                    Assert.Equal(WebSocketState.Closed, client.State, "closed cleanly at the end");
                    Assert.Equal(3, Volatile.Read(ref accepted), "three connections in all");
                }
            }
        }

        static async Task ReconnectQueuesSends()
        {
            using (var server = new WsxServer(new WsxServerOptions()))
            {
                var received = new BlockingCollection<string>();
                int accepted = 0;
                server.ClientConnected += (s, e) =>
                {
                    if (Interlocked.Increment(ref accepted) == 1)
                        e.Connection.CloseAsync((WebSocketCloseStatus)1013, "try again later", CancellationToken.None);
                };
                server.MessageReceived += (s, e) => received.Add(Volatile.Read(ref accepted) + ": " + e.Message.Text);
                server.Start();
                var policy = FastPolicy();
                policy.QueueWhileDisconnected = 1 << 16;
                using (var client = new WsxClient(new WsxClientOptions { Reconnect = policy }))
                {
                    // Continuations off the loop thread: the test blocks while it waits.
                    var queued = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
                    client.Disconnected += (s, e) =>
                    {
                        var sends = new[] { client.SendAsync("queued 1", CancellationToken.None), client.SendAsync("queued 2", CancellationToken.None) };
                        // Past the queue's bound, sends are refused.
                        var tooMuch = client.SendAsync(new string('x', 1 << 17), CancellationToken.None);
                        var refusal = tooMuch.IsFaulted ? WsxException.Of(tooMuch.Exception) : null;
                        queued.TrySetResult(string.Join(" ", sends.Select(t => t.Status)) + " " + (refusal != null ? refusal.Result.ToString() : tooMuch.Status.ToString()));
                    };
                    await client.ConnectAsync(new Uri("ws://127.0.0.1:" + server.Port + "/"), CancellationToken.None);
                    Assert.Equal("RanToCompletion RanToCompletion NotConnected", await queued.Task, "sends while down: two queued, one past the bound refused");
                    Assert.Equal("2: queued 1", Take(received, "the first queued message"), "arrived on the second connection");
                    Assert.Equal("2: queued 2", Take(received, "the second queued message"), "in order");
                    await client.SendAsync("live", CancellationToken.None);
                    Assert.Equal("2: live", Take(received, "a message after the reconnect"), "and nothing else was sent");
                    Assert.Equal(WebSocketState.Open, client.State, "open again");
                }
            }
        }

        static async Task ReconnectGivesUp(Peer peer)
        {
            var policy = FastPolicy();
            policy.MaxAttempts = 2;
            using (var client = new WsxClient(new WsxClientOptions { Reconnect = policy }))
            {
                var events = new ClientEvents(client);
                var e = await Assert.ThrowsAsync<WsxException>(
                    () => client.ConnectAsync(new Uri("ws://127.0.0.1:" + Ports.Unused() + "/"), CancellationToken.None), "nobody listening");
                Assert.Equal(WsxResult.Connect, e.Result, "the last attempt's error");
                events.Expect("connecting 0 0", "disconnected 1006", "connecting 1 10", "disconnected 1006", "connecting 2 20", "closed 1006");
            }
            foreach (var retry in new[] { false, true })
            {
                var refusals = FastPolicy();
                refusals.MaxAttempts = 1;
                refusals.RetryOn4xx = retry;
                using (var client = new WsxClient(new WsxClientOptions { Reconnect = refusals }))
                {
                    var events = new ClientEvents(client);
                    var e = await Assert.ThrowsAsync<WsxException>(
                        () => client.ConnectAsync(peer.Url("/refuse/403"), CancellationToken.None), "a 403 refusal");
                    Assert.Equal((int?)403, e.HttpStatus, "the refusal's status");
                    events.Expect("connecting 0 0");
                    if (retry)
                        events.Expect("disconnected 1006", "connecting 1 10");
                    events.Expect("closed 1006");
                }
            }
        }

        static async Task ReconnectStoppedWhileWaiting(Peer peer)
        {
            var policy = FastPolicy();
            policy.InitialDelay = policy.MaxDelay = TimeSpan.FromHours(1);
            foreach (var dispose in new[] { false, true })
            {
                var client = new WsxClient(new WsxClientOptions { Reconnect = policy });
                var events = new ClientEvents(client);
                await client.ConnectAsync(peer.Url(), CancellationToken.None);
                await client.SendAsync("close 1011 oops", CancellationToken.None);
                events.Expect("connecting 0 0", "connected first", "disconnected 1011", "connecting 1 3600000");
                Assert.Equal(WebSocketState.Connecting, client.State, "waiting for the next attempt");
                if (dispose)
                {
                    client.Dispose();
                    Assert.Equal(WebSocketState.Aborted, client.State, "state after Dispose");
                    await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ReceiveAsync(CancellationToken.None), "ReceiveAsync after Dispose");
                }
                else
                {
                    await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "stop", CancellationToken.None);
                    var closed = Take(events.Log, "the Closed event");
                    Assert.True(closed.StartsWith("closed ", StringComparison.Ordinal), "the next event is the close: " + closed);
                    Assert.True(client.State == WebSocketState.Closed || client.State == WebSocketState.Aborted, "over: " + client.State);
                    var end = await client.ReceiveAsync(CancellationToken.None);
                    Assert.Equal(WebSocketMessageType.Close, end.MessageType, "ReceiveAsync ends");
                    client.Dispose();
                }
                string extra;
                Assert.True(!events.Log.TryTake(out extra), "no event after the stop: " + extra);
            }
            // The shared loop goes on.
            using (var again = await Connect(peer.Url()))
            {
                await again.SendAsync("alive", CancellationToken.None);
                Assert.Equal("alive", (await again.ReceiveAsync(CancellationToken.None)).Text, "a new client still works");
            }
        }

        static async Task ServerUpgradeHook()
        {
            var options = new WsxServerOptions();
            options.SubProtocols.Add("chat.v1");
            using (var server = new WsxServer(options))
            {
                var requests = new BlockingCollection<WsxUpgradeEventArgs>();
                var connected = new BlockingCollection<WsxConnection>();
                var errors = new BlockingCollection<Exception>();
                WsxUpgradeEventArgs kept = null;
                server.Upgrading += (s, e) =>
                {
                    requests.Add(e);
                    kept = e;
                    if (e.Path.StartsWith("/private", StringComparison.Ordinal))
                    {
                        IEnumerable<string> token;
                        if (!e.Headers.TryGetValue("authorization", out token) || token.Single() != "Bearer good")
                        {
                            e.AddResponseHeader("WWW-Authenticate", "Bearer realm=\"wsx\"");
                            e.Refuse(401, "who are you?");
                            return;
                        }
                    }
                    if (e.Path == "/boom")
                        throw new InvalidOperationException("a buggy hook");
                    if (e.Path == "/legacy")
                        e.SetSubProtocol(null);
                    e.AddResponseHeader("Set-Cookie", "session=abc; HttpOnly");
                };
                server.ClientConnected += (s, e) => connected.Add(e.Connection);
                // Errors outside any connection only: the clients below are disposed without a
                // close handshake, which their server-side connections report too.
                server.Error += (s, e) =>
                {
                    if (e.Connection == null)
                        errors.Add(e.Exception);
                };
                server.Start();
                var url = "ws://127.0.0.1:" + server.Port;

                var offer = new WsxClientOptions();
                offer.AddSubProtocol("chat.v1");
                offer.SetRequestHeader("X-Player", "ann");
                using (var client = await Connect(new Uri(url + "/room/lobby?team=red"), offer))
                {
                    var request = Take(requests, "the Upgrading event");
                    Assert.Equal("/room/lobby?team=red", request.Path, "the request's path");
                    Assert.Equal("ann", request.Headers["x-player"].Single(), "a request header");
                    Assert.Equal("chat.v1", request.SubProtocol, "the preset subprotocol");
                    Assert.True(request.PeerAddress.StartsWith("127.0.0.1:", StringComparison.Ordinal), "the peer's address: " + request.PeerAddress);
                    Assert.Equal("session=abc; HttpOnly", client.HttpResponseHeaders["Set-Cookie"].Single(), "the cookie on the 101");
                    Assert.Equal("chat.v1", client.SubProtocol, "the subprotocol");
                    var conn = Take(connected, "ClientConnected");
                    Assert.Equal("/room/lobby?team=red", conn.RequestPath, "RequestPath on the server's connection");
                    Assert.Equal("ann", conn.RequestHeaders["X-Player"].Single(), "RequestHeaders on the server's connection");
                    Assert.Equal(request.PeerAddress, conn.RemoteAddress, "RemoteAddress on the server's connection");
                    Assert.True(client.RemoteAddress == "127.0.0.1:" + server.Port, "the client's RemoteAddress: " + client.RemoteAddress);
                    Assert.Equal(null, client.RequestPath, "no RequestPath on a client");
                    Assert.Throws<InvalidOperationException>(() => kept.Refuse(403, "too late"), "refusing after the handler returned");
                }
                using (var client = await Connect(new Uri(url + "/legacy"), offer))
                {
                    Take(requests, "the Upgrading event");
                    Assert.Equal(null, client.SubProtocol, "the hook answered without a subprotocol");
                }
                using (var client = new WsxClient())
                {
                    var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(new Uri(url + "/private"), CancellationToken.None), "no token");
                    Assert.Equal((int?)401, e.HttpStatus, "refused with the hook's status");
                    Assert.Equal("Bearer realm=\"wsx\"", e.HttpResponseHeaders["www-authenticate"].Single(), "the refusal's header on the exception");
                    Assert.Equal("Bearer realm=\"wsx\"", client.HttpResponseHeaders["WWW-Authenticate"].Single(), "HttpResponseHeaders after the refusal");
                    Assert.Equal((HttpStatusCode)401, client.HttpStatusCode, "HttpStatusCode after the refusal");
                    Assert.True(e.HttpResponseBody != null, "the refusal's body");
                    Assert.Equal(WsxTimeout.None, e.Timeout, "no timeout");
                    Take(requests, "the Upgrading event");
                }
                var authorized = new WsxClientOptions();
                authorized.SetRequestHeader("Authorization", "Bearer good");
                using (var client = await Connect(new Uri(url + "/private"), authorized))
                    Take(requests, "the Upgrading event");
                using (var client = new WsxClient())
                {
                    var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(new Uri(url + "/boom"), CancellationToken.None), "a throwing hook");
                    Assert.Equal((int?)500, e.HttpStatus, "refused with 500");
                    Take(requests, "the Upgrading event");
                    Assert.Equal("a buggy hook", Take(errors, "the Error event").Message, "the hook's exception");
                }
                // Connections exist for the accepted requests only.
                Assert.Equal("/legacy", Take(connected, "the second connection").RequestPath, "the second accepted request");
                Assert.Equal("/private", Take(connected, "the third connection").RequestPath, "the authorized request");
                WsxConnection extra;
                Assert.True(!connected.TryTake(out extra), "no connection for a refused request: " + (extra == null ? "" : extra.RequestPath));
            }
        }

        static WsxServer EchoServer(WsxServerOptions options = null)
        {
            var server = new WsxServer(options ?? new WsxServerOptions());
            server.MessageReceived += (s, e) => e.Connection.SendAsync("echo: " + e.Message.Text, CancellationToken.None);
            server.Start();
            return server;
        }

        static async Task ProxyConnect()
        {
            using (var certificates = new TestCertificates())
            using (var server = EchoServer())
            using (var tlsServer = EchoServer(new WsxServerOptions { CertificateFile = certificates.CertificateFile, KeyFile = certificates.KeyFile }))
            using (var proxy = new ConnectProxy("ann", "s3cret:ish"))
            {
                var target = new Uri("ws://127.0.0.1:" + server.Port + "/");
                using (var client = await Connect(target, new WsxClientOptions { Proxy = new WsxProxy(proxy.Url("ann:s3cret%3Aish") )}))
                {
                    await client.SendAsync("through the tunnel", CancellationToken.None);
                    Assert.Equal("echo: through the tunnel", (await client.ReceiveAsync(CancellationToken.None)).Text, "echo through the proxy");
                }
                // TLS to the target through the tunnel, its certificate checked for the target's name.
                var tlsTarget = new Uri("wss://localhost:" + tlsServer.Port + "/");
                using (var client = await Connect(tlsTarget, new WsxClientOptions { Proxy = new WsxProxy(proxy.Url("ann:s3cret%3Aish")), CaFile = certificates.CaFile }))
                {
                    await client.SendAsync("secret", CancellationToken.None);
                    Assert.Equal("echo: secret", (await client.ReceiveAsync(CancellationToken.None)).Text, "wss echo through the proxy");
                }
                Assert.Equal("127.0.0.1:" + server.Port + " localhost:" + tlsServer.Port, string.Join(" ", proxy.Tunnels), "the tunnels the proxy opened");

                var failures = new[]
                {
                    new { What = "wrong credentials", Proxy = proxy.Url("ann:wrong"), Target = target, Status = (int?)407 },
                    new { What = "no credentials", Proxy = proxy.Url(), Target = target, Status = (int?)407 },
                    new { What = "a target that is down", Proxy = proxy.Url("ann:s3cret%3Aish"), Target = new Uri("ws://127.0.0.1:" + Ports.Unused() + "/"), Status = (int?)502 },
                    new { What = "a proxy that is down", Proxy = new Uri("http://127.0.0.1:" + Ports.Unused()), Target = target, Status = (int?)null },
                };
                foreach (var f in failures)
                {
                    using (var client = new WsxClient(new WsxClientOptions { Proxy = new WsxProxy(f.Proxy )}))
                    {
                        var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(f.Target, CancellationToken.None), f.What);
                        Assert.Equal(WsxResult.Proxy, e.Result, "result code for " + f.What);
                        Assert.Equal(f.Status, e.HttpStatus, "HTTP status for " + f.What);
                        Assert.True(e.Message.IndexOf("proxy", StringComparison.OrdinalIgnoreCase) >= 0, "the message names the proxy hop: " + e.Message);
                    }
                }
                using (var client = new WsxClient(new WsxClientOptions { Proxy = new WsxProxy(new Uri("ftp://127.0.0.1:21") )}))
                {
                    var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(target, CancellationToken.None), "an ftp:// proxy");
                    Assert.Equal(WsxResult.InvalidArgument, e.Result, "result code for an ftp:// proxy");
                }
            }
        }

        static async Task ProxySocks5()
        {
            using (var certificates = new TestCertificates())
            using (var server = EchoServer())
            using (var tlsServer = EchoServer(new WsxServerOptions { CertificateFile = certificates.CertificateFile, KeyFile = certificates.KeyFile }))
            using (var open = new Socks5Proxy())
            using (var guarded = new Socks5Proxy("bob", "pa ss"))
            {
                var target = new Uri("ws://localhost:" + server.Port + "/");
                var tlsTarget = new Uri("wss://localhost:" + tlsServer.Port + "/");
                foreach (var proxy in new[] { open.Url(), guarded.Url("bob:pa%20ss") })
                {
                    using (var client = await Connect(target, new WsxClientOptions { Proxy = new WsxProxy(proxy )}))
                    {
                        await client.SendAsync("socks", CancellationToken.None);
                        Assert.Equal("echo: socks", (await client.ReceiveAsync(CancellationToken.None)).Text, "echo through " + proxy);
                    }
                    using (var client = await Connect(tlsTarget, new WsxClientOptions { Proxy = new WsxProxy(proxy), CaFile = certificates.CaFile }))
                    {
                        await client.SendAsync("socks over TLS", CancellationToken.None);
                        Assert.Equal("echo: socks over TLS", (await client.ReceiveAsync(CancellationToken.None)).Text, "wss echo through " + proxy);
                    }
                }
                // socks5h: the proxy resolved the name.
                var expected = "localhost:" + server.Port + " localhost:" + tlsServer.Port;
                Assert.Equal(expected, string.Join(" ", open.Tunnels), "the open proxy's tunnels");
                Assert.Equal(expected, string.Join(" ", guarded.Tunnels), "the guarded proxy's tunnels");

                var failures = new[]
                {
                    new { What = "wrong credentials", Proxy = guarded.Url("bob:wrong"), Target = target },
                    new { What = "no credentials", Proxy = guarded.Url(), Target = target },
                    new { What = "a target that is down", Proxy = open.Url(), Target = new Uri("ws://localhost:" + Ports.Unused() + "/") },
                };
                foreach (var f in failures)
                {
                    using (var client = new WsxClient(new WsxClientOptions { Proxy = new WsxProxy(f.Proxy )}))
                    {
                        var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(f.Target, CancellationToken.None), f.What);
                        Assert.Equal(WsxResult.Proxy, e.Result, "result code for " + f.What + " (" + e.Message + ")");
                    }
                }
            }
        }

        static async Task ProxyFromEnvironment()
        {
            var names = new[] { "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY" };
            var saved = names.ToDictionary(n => n, Environment.GetEnvironmentVariable);
            try
            {
                foreach (var name in names)
                    Environment.SetEnvironmentVariable(name, null);
                using (var server = EchoServer())
                using (var proxy = new ConnectProxy())
                {
                    var target = new Uri("ws://127.0.0.1:" + server.Port + "/");
                    Environment.SetEnvironmentVariable("http_proxy", proxy.Url().AbsoluteUri);
                    using (var client = await Connect(target, new WsxClientOptions()))
                        Assert.Equal(0, proxy.Tunnels.Length, "no proxy unless asked for");
                    using (var client = await Connect(target, new WsxClientOptions { UseEnvironmentProxy = true }))
                    {
                        await client.SendAsync("via env", CancellationToken.None);
                        Assert.Equal("echo: via env", (await client.ReceiveAsync(CancellationToken.None)).Text, "echo through the environment's proxy");
                        Assert.Equal(1, proxy.Tunnels.Length, "the environment's proxy was used");
                    }
                    Environment.SetEnvironmentVariable("no_proxy", "localhost,127.0.0.1");
                    using (var client = await Connect(target, new WsxClientOptions { UseEnvironmentProxy = true }))
                        Assert.Equal(1, proxy.Tunnels.Length, "no_proxy exempts the target");
                }
            }
            finally
            {
                foreach (var name in names)
                    Environment.SetEnvironmentVariable(name, saved[name]);
            }
        }
    }
}
