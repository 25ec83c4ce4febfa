using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>
    /// The server's HTTP side: plain HTTP answered on the WebSocket port, routing by path through
    /// the Upgrading event, full HTTP answers (now and deferred) seen by wsx clients as refused
    /// handshakes, mutual TLS, and the drain.
    /// </summary>
    internal static partial class Program
    {
        static void ServerHttpTests(Runner runner, Dictionary<string, string> options)
        {
            runner.Run("server HTTP: GET /healthz answered 200, routes by path, 404, 302 and 401 answers seen by the client", ServerRoutesAndHttpAnswers);
            runner.Run("server HTTP: a deferred decision answered with a redirect from another thread", DeferredHttpAnswer);
            runner.Run("server HTTP: without AnswerPlainHttp a plain request gets 426 and never reaches Upgrading", PlainHttpOffByDefault);
            runner.Run("mutual TLS required: alice gets in and is seen by subject, no certificate / revoked / other CA fail", MutualTlsRequired);
            runner.Run("mutual TLS optional: a client without a certificate gets in with no subject", MutualTlsOptional);
            runner.Run("drain: clients see 1012 'restart', handshakes and GET /healthz meanwhile get 503, a silent peer is dropped", Drain);
            runner.Run("WsxServer: a client's Dispose drops its connection: the server sees 1006 and the topic is left", DisposeDropsTheConnection);
            if (options.ContainsKey("--examples"))
                runner.Run("examples: RoutesServer.exe routes by path, answers plain HTTP, serves /metrics, drains when its input ends",
                    () => RoutesServerExample(options["--runtime"], options["--examples"]));
        }

        /// <summary>An HTTP response read off a raw socket.</summary>
        internal sealed class RawResponse
        {
            internal int Status;
            internal readonly Dictionary<string, string> Headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            internal string Body = "";
        }

        /// <summary>Sends one HTTP/1.1 request over a plain TcpClient and reads the response until the server closes.</summary>
        static async Task<RawResponse> RawHttp(int port, string method, string path, string extraHeaders = "")
        {
            using (var tcp = new TcpClient())
            {
                await tcp.ConnectAsync("127.0.0.1", port);
                var stream = tcp.GetStream();
                var request = Encoding.ASCII.GetBytes(method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n" + extraHeaders + "\r\n");
                await stream.WriteAsync(request, 0, request.Length);
                var all = new MemoryStream();
                var buffer = new byte[4096];
                var read = stream.ReadAsync(buffer, 0, buffer.Length);
                int n;
                while ((n = await WithTimeout(read, "the HTTP response")) > 0)
                {
                    all.Write(buffer, 0, n);
                    read = stream.ReadAsync(buffer, 0, buffer.Length);
                }
                var text = Encoding.UTF8.GetString(all.ToArray());
                var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                Assert.True(split > 0, "a complete HTTP head: " + text);
                var lines = text.Substring(0, split).Split(new[] { "\r\n" }, StringSplitOptions.None);
                var response = new RawResponse { Status = int.Parse(lines[0].Split(' ')[1]), Body = text.Substring(split + 4) };
                foreach (var line in lines.Skip(1))
                {
                    var colon = line.IndexOf(':');
                    response.Headers[line.Substring(0, colon)] = line.Substring(colon + 1).Trim();
                }
                return response;
            }
        }

        static async Task<T> WithTimeout<T>(Task<T> task, string what)
        {
            if (await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(30))) != task)
                throw new TimeoutException(what + ": no answer in 30 s");
            return await task;
        }

        static string PathOnly(string target)
        {
            var q = target.IndexOf('?');
            return q < 0 ? target : target.Substring(0, q);
        }

        static async Task ServerRoutesAndHttpAnswers()
        {
            // Routing by path: one handler per path, chosen in Upgrading (unknown paths answered
            // 404 there, so no connection exists for them), run for each message of the connection.
            var routes = new Dictionary<string, Func<WsxConnection, WsxMessage, Task>>
            {
                ["/echo"] = (c, m) => c.SendAsync(m.Text, CancellationToken.None),
                ["/upper"] = (c, m) => c.SendAsync(m.Text.ToUpperInvariant(), CancellationToken.None),
            };
            var seen = new BlockingCollection<WsxUpgradeEventArgs>();
            using (var server = new WsxServer(new WsxServerOptions { AnswerPlainHttp = true }))
            {
                server.Upgrading += (s, e) =>
                {
                    seen.Add(e);
                    var path = PathOnly(e.Path);
                    if (path == "/healthz")
                        e.Respond(200, "ok\n");
                    else if (path == "/old-echo")
                        e.Respond(302, new[] { new KeyValuePair<string, string>("Location", "/echo") });
                    else if (path == "/private" && !e.Headers.ContainsKey("Authorization"))
                    {
                        e.AddResponseHeader("WWW-Authenticate", "Basic realm=\"wsx\"");
                        e.Respond(401, "log in first");
                    }
                    else if (path == "/private")
                        e.Respond(200, "welcome");
                    else if (!routes.ContainsKey(path))
                        e.Respond(404, new[] { new KeyValuePair<string, string>("Content-Type", "text/html") }, Encoding.UTF8.GetBytes("<p>no route</p>"));
                    // else: a WebSocket route is accepted; plain HTTP on it gets 426.
                };
                server.MessageReceived += (s, e) => routes[PathOnly(e.Connection.RequestPath)](e.Connection, e.Message).Wait();
                server.Start();
                var port = server.Port;

                var health = await RawHttp(port, "GET", "/healthz");
                Assert.Equal(200, health.Status, "GET /healthz status");
                Assert.Equal("ok\n", health.Body, "GET /healthz body");
                Assert.Equal("text/plain; charset=utf-8", health.Headers["Content-Type"], "the default Content-Type");
                var request = Take(seen, "Upgrading for the health check");
                Assert.True(request.IsPlainHttp, "IsPlainHttp on a plain request");
                Assert.Equal(null, request.PeerSubject, "no peer subject without TLS");
                Assert.Equal(0, request.PeerCertificates.Count, "no peer certificates without TLS");
                Assert.Equal(true, request.Responded, "Responded");

                var missing = await RawHttp(port, "GET", "/nowhere");
                Assert.Equal(404, missing.Status, "GET /nowhere");
                Assert.Equal("text/html", missing.Headers["Content-Type"], "the handler's Content-Type");
                Assert.Equal("<p>no route</p>", missing.Body, "the 404 body");
                Assert.Equal(426, (await RawHttp(port, "GET", "/echo")).Status, "plain HTTP on a WebSocket route");
                Take(seen, "Upgrading /nowhere");
                Take(seen, "Upgrading /echo (plain)");

                var url = "ws://127.0.0.1:" + port;
                using (var echo = await Connect(new Uri(url + "/echo")))
                using (var upper = await Connect(new Uri(url + "/upper?x=1")))
                {
                    Assert.True(!Take(seen, "Upgrading /echo").IsPlainHttp, "a handshake is not plain HTTP");
                    Take(seen, "Upgrading /upper");
                    await echo.SendAsync("hello", CancellationToken.None);
                    await upper.SendAsync("hello", CancellationToken.None);
                    Assert.Equal("hello", (await echo.ReceiveAsync(CancellationToken.None)).Text, "the /echo route");
                    Assert.Equal("HELLO", (await upper.ReceiveAsync(CancellationToken.None)).Text, "the /upper route");
                }
                using (var client = new WsxClient())
                {
                    var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(new Uri(url + "/nowhere"), CancellationToken.None), "no route");
                    Assert.Equal((int?)404, e.HttpStatus, "404 for a handshake without a route");
                    Assert.Equal("<p>no route</p>", Encoding.UTF8.GetString(e.HttpResponseBody), "the 404 body on the exception");
                }
                using (var client = new WsxClient())
                {
                    var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(new Uri(url + "/old-echo"), CancellationToken.None), "a redirect");
                    Assert.Equal((int?)302, e.HttpStatus, "a 302 is a refused handshake");
                    Assert.Equal("/echo", e.HttpResponseHeaders["location"].Single(), "its Location");
                }
                using (var client = new WsxClient())
                {
                    var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(new Uri(url + "/private"), CancellationToken.None), "no credentials");
                    Assert.Equal((int?)401, e.HttpStatus, "401");
                    Assert.Equal("Basic realm=\"wsx\"", e.HttpResponseHeaders["WWW-Authenticate"].Single(), "WWW-Authenticate");
                    Assert.Equal("log in first", Encoding.UTF8.GetString(e.HttpResponseBody), "the 401 body");
                    Assert.Equal((System.Net.HttpStatusCode)401, client.HttpStatusCode, "HttpStatusCode after the refusal");
                }
                var unauthorized = await RawHttp(port, "GET", "/private");
                Assert.Equal(401, unauthorized.Status, "plain GET /private");
                Assert.Equal("Basic realm=\"wsx\"", unauthorized.Headers["WWW-Authenticate"], "the header added before Respond");
                Assert.Equal("welcome", (await RawHttp(port, "GET", "/private", "Authorization: Basic eDp5\r\n")).Body, "with credentials");
            }
        }

        static async Task DeferredHttpAnswer()
        {
            using (var server = new WsxServer(new WsxServerOptions { AnswerPlainHttp = true }))
            {
                var errors = new BlockingCollection<Exception>();
                server.Error += (s, e) => errors.Add(e.Exception);
                server.Upgrading += (s, e) =>
                {
                    var pending = e.Defer();
                    var plain = e.IsPlainHttp;
                    Task.Run(() =>
                    {
                        using (pending)
                        {
                            try
                            {
                                pending.Respond(99, "not a status");
                            }
                            catch (WebSocketException bad) when (bad.InnerException is WsxException)
                            {
                                // Left undecided: answer properly.
                                pending.Respond(307);
                                return;
                            }
                            errors.Add(new Exception("status 99 was accepted"));
                        }
                    });
                };
                server.Start();
                using (var client = new WsxClient())
                {
                    var e = await Assert.ThrowsAsync<WsxException>(
                        () => client.ConnectAsync(new Uri("ws://127.0.0.1:" + server.Port + "/later"), CancellationToken.None), "deferred answer");
                    Assert.Equal((int?)307, e.HttpStatus, "the deferred answer's status");
                }
                Assert.Equal(307, (await RawHttp(server.Port, "GET", "/later")).Status, "a deferred plain request");
                Exception error;
                Assert.True(!errors.TryTake(out error), "no error: " + error);
            }
        }

        static async Task PlainHttpOffByDefault()
        {
            using (var server = new WsxServer(new WsxServerOptions()))
            {
                int upgrades = 0;
                server.Upgrading += (s, e) => Interlocked.Increment(ref upgrades);
                server.Start();
                Assert.Equal(426, (await RawHttp(server.Port, "GET", "/healthz")).Status, "plain HTTP, not asked for");
                Assert.Equal(0, Volatile.Read(ref upgrades), "Upgrading not raised");
            }
        }

        static async Task MutualTlsRequired()
        {
            using (var certificates = new TestCertificates())
            {
                certificates.MakeClientCertificates();
                var options = new WsxServerOptions
                {
                    CertificateFile = certificates.CertificateFile,
                    KeyFile = certificates.KeyFile,
                    ClientCaFile = certificates.FileNamed("client-ca.pem"),
                    ClientCrlFile = certificates.FileNamed("crl.pem"),
                };
                var seen = new BlockingCollection<WsxUpgradeEventArgs>();
                var connected = new BlockingCollection<WsxServerConnection>();
                var errors = new BlockingCollection<Exception>();
                using (var server = new WsxServer(options))
                {
                    server.Upgrading += (s, e) =>
                    {
                        seen.Add(e);
                        if (e.PeerSubject != "CN=alice,O=wsx")
                            e.Refuse(403, "not you");
                    };
                    server.ClientConnected += (s, e) => connected.Add((WsxServerConnection)e.Connection);
                    server.MessageReceived += (s, e) => e.Connection.SendAsync("hello " + ((WsxServerConnection)e.Connection).PeerSubject, CancellationToken.None).Wait();
                    server.Error += (s, e) => errors.Add(e.Exception);
                    server.Start();
                    var url = new Uri("wss://localhost:" + server.Port + "/whoami");

                    var alice = new WsxClientOptions { CaFile = certificates.CaFile };
                    alice.SetClientCertificate(certificates.FileNamed("alice.pem"), certificates.FileNamed("alice.key"));
                    using (var client = await Connect(url, alice))
                    {
                        var request = Take(seen, "Upgrading for alice");
                        Assert.Equal("CN=alice,O=wsx", request.PeerSubject, "the subject on the upgrade event");
                        Assert.Equal(1, request.PeerCertificates.Count, "alice's chain");
                        var conn = Take(connected, "alice's connection");
                        Assert.Equal("CN=alice,O=wsx", conn.PeerSubject, "PeerSubject on the connection");
                        var leaf = conn.PeerCertificates[0];
                        Assert.True(leaf.Subject.Contains("CN=alice"), "the leaf certificate's subject: " + leaf.Subject);
                        Assert.Bytes(request.PeerCertificates[0].RawData, leaf.RawData, "the same DER on the event and the connection");
                        await client.SendAsync("who am I?", CancellationToken.None);
                        Assert.Equal("hello CN=alice,O=wsx", (await client.ReceiveAsync(CancellationToken.None)).Text, "the server knows alice");
                        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                    }

                    using (var client = new WsxClient(new WsxClientOptions { CaFile = certificates.CaFile }))
                        await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(url, CancellationToken.None), "no client certificate");
                    Take(errors, "the server's error for a client without a certificate");

                    var bob = new WsxClientOptions { CaFile = certificates.CaFile };
                    bob.SetClientCertificate(certificates.FileNamed("bob.pem"), certificates.FileNamed("bob.key"));
                    using (var client = new WsxClient(bob))
                        await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(url, CancellationToken.None), "a revoked certificate");
                    var revoked = Take(errors, "the server's error for a revoked certificate");
                    Assert.True(revoked.ToString().IndexOf("revoked", StringComparison.OrdinalIgnoreCase) >= 0, "the error says revoked: " + revoked.Message);

                    // The server's own certificate is not signed by the client CA.
                    var stranger = new WsxClientOptions { CaFile = certificates.CaFile };
                    stranger.SetClientCertificate(certificates.CertificateFile, certificates.KeyFile);
                    using (var client = new WsxClient(stranger))
                        await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(url, CancellationToken.None), "a certificate of another CA");
                    WsxUpgradeEventArgs extra;
                    Assert.True(!seen.TryTake(out extra), "a failed TLS handshake never reaches Upgrading");
                }
            }
        }

        static async Task MutualTlsOptional()
        {
            using (var certificates = new TestCertificates())
            {
                certificates.MakeClientCertificates();
                var options = new WsxServerOptions
                {
                    CertificateFile = certificates.CertificateFile,
                    KeyFile = certificates.KeyFile,
                    ClientCaFile = certificates.FileNamed("client-ca.pem"),
                    ClientCertificateRequired = false,
                };
                var connected = new BlockingCollection<WsxServerConnection>();
                using (var server = new WsxServer(options))
                {
                    server.ClientConnected += (s, e) => connected.Add((WsxServerConnection)e.Connection);
                    server.Start();
                    var url = new Uri("wss://localhost:" + server.Port + "/");
                    using (var client = await Connect(url, new WsxClientOptions { CaFile = certificates.CaFile }))
                    {
                        var conn = Take(connected, "the anonymous connection");
                        Assert.Equal(null, conn.PeerSubject, "no subject without a certificate");
                        Assert.Equal(0, conn.PeerCertificates.Count, "no chain");
                    }
                    var alice = new WsxClientOptions { CaFile = certificates.CaFile };
                    alice.SetClientCertificate(certificates.FileNamed("alice.pem"), certificates.FileNamed("alice.key"));
                    using (var client = await Connect(url, alice))
                        Assert.Equal("CN=alice,O=wsx", Take(connected, "alice's connection").PeerSubject, "alice's subject");
                }
            }
        }

        static async Task RoutesServerExample(string runtime, string dir)
        {
            var info = new System.Diagnostics.ProcessStartInfo(runtime, Quote(Path.Combine(dir, "RoutesServer.exe")) + " --port 0")
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using (var process = System.Diagnostics.Process.Start(info))
            {
                // Its Error lines (the 426 it refuses is one) stay out of the test's output.
                var errors = process.StandardError.ReadToEndAsync();
                try
                {
                    var first = await WithTimeout(process.StandardOutput.ReadLineAsync(), "RoutesServer's first line");
                    Assert.True(first != null && first.StartsWith("listening on ", StringComparison.Ordinal), "it listens: " + first);
                    var port = int.Parse(first.Substring("listening on ".Length));
                    var health = await RawHttp(port, "GET", "/healthz");
                    Assert.Equal(200, health.Status, "GET /healthz");
                    Assert.Equal("ok", health.Body, "its body");
                    var old = await RawHttp(port, "GET", "/old");
                    Assert.Equal(301, old.Status, "GET /old");
                    Assert.Equal("/echo", old.Headers["Location"], "its Location");
                    Assert.Equal("slow ok", (await RawHttp(port, "GET", "/slow")).Body, "a deferred answer");
                    Assert.Equal(404, (await RawHttp(port, "GET", "/nowhere")).Status, "no route");
                    Assert.Equal(426, (await RawHttp(port, "GET", "/echo")).Status, "plain HTTP on a WebSocket route");
                    var url = "ws://127.0.0.1:" + port;
                    using (var shout = await Connect(new Uri(url + "/shout")))
                    {
                        await shout.SendAsync("count me", CancellationToken.None);
                        await shout.ReceiveAsync(CancellationToken.None);
                    }
                    var metrics = await RawHttp(port, "GET", "/metrics");
                    Assert.Equal(200, metrics.Status, "GET /metrics");
                    Assert.Equal(WsxMetrics.ContentType, metrics.Headers["Content-Type"], "its Content-Type");
                    Assert.True(metrics.Body.Contains("\nwsx_messages_received_total 1\n") && metrics.Body.EndsWith("# EOF\n"),
                        "the OpenMetrics text counts the message: " + metrics.Body);
                    using (var shout = await Connect(new Uri(url + "/shout")))
                    {
                        await shout.SendAsync("hi", CancellationToken.None);
                        Assert.Equal("HI", (await shout.ReceiveAsync(CancellationToken.None)).Text, "/shout");
                    }
                    using (var client = new WsxClient())
                    {
                        var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(new Uri(url + "/private"), CancellationToken.None), "no token");
                        Assert.Equal((int?)401, e.HttpStatus, "/private without a token");
                        Assert.Equal("Bearer realm=\"routes\"", e.HttpResponseHeaders["WWW-Authenticate"].Single(), "its WWW-Authenticate");
                    }
                    var token = new WsxClientOptions();
                    token.SetRequestHeader("Authorization", "Bearer letmein");
                    using (var client = await Connect(new Uri(url + "/private"), token))
                    using (var echo = await Connect(new Uri(url + "/echo")))
                    {
                        await echo.SendAsync("before the drain", CancellationToken.None);
                        Assert.Equal("before the drain", (await echo.ReceiveAsync(CancellationToken.None)).Text, "/echo");
                        process.StandardInput.Close();
                        Assert.Equal(WebSocketMessageType.Close, (await echo.ReceiveAsync(CancellationToken.None)).MessageType, "the drain closes /echo");
                        Assert.Equal((WebSocketCloseStatus?)WebSocketCloseStatus.EndpointUnavailable, echo.CloseStatus, "with 1001");
                        Assert.Equal("server shutting down", echo.CloseStatusDescription, "and its reason");
                        Assert.Equal(WebSocketMessageType.Close, (await client.ReceiveAsync(CancellationToken.None)).MessageType, "and /private");
                    }
                    Assert.Equal("drained", await WithTimeout(process.StandardOutput.ReadLineAsync(), "RoutesServer's last line"), "it says so");
                    Assert.True(process.WaitForExit(60000), "RoutesServer exited");
                    Assert.Equal(0, process.ExitCode, "its exit code (errors: " + errors.Result + ")");
                }
                finally
                {
                    if (!process.HasExited)
                        process.Kill();
                }
            }
        }

        /// <summary>Dispose used to complete its own close task first and then skip wsx_conn_abort: the connection ran on.</summary>
        static async Task DisposeDropsTheConnection()
        {
            var gone = new BlockingCollection<WsxClosedEventArgs>();
            using (var server = new WsxServer(new WsxServerOptions()))
            {
                server.ClientConnected += (s, e) => e.Connection.Subscribe("news");
                server.ClientDisconnected += (s, e) => gone.Add(e);
                server.Start();
                var client = await Connect(new Uri("ws://127.0.0.1:" + server.Port + "/"));
                WaitUntil(() => server.SubscriberCount("news") == 1, "subscribed");
                client.Dispose();
                Assert.Equal((WebSocketCloseStatus)1006, Take(gone, "ClientDisconnected after the client's Dispose").CloseStatus, "1006: dropped");
                Assert.Equal(0, server.SubscriberCount("news"), "the topic is left");
            }
        }

        /// <summary>A WebSocket client on a raw socket that completes the handshake and then never reads or answers.</summary>
        static async Task<TcpClient> SilentWebSocket(int port)
        {
            var tcp = new TcpClient();
            await tcp.ConnectAsync("127.0.0.1", port);
            var stream = tcp.GetStream();
            var request = Encoding.ASCII.GetBytes(
                "GET /silent HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
            await stream.WriteAsync(request, 0, request.Length);
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                Assert.True(await WithTimeout(stream.ReadAsync(one, 0, 1), "the 101") == 1, "the 101 arrives");
                head.Append((char)one[0]);
            }
            Assert.True(head.ToString().StartsWith("HTTP/1.1 101", StringComparison.Ordinal), "switched: " + head);
            return tcp;
        }

        static async Task Drain()
        {
            var connected = new BlockingCollection<WsxConnection>();
            using (var server = new WsxServer(new WsxServerOptions { AnswerPlainHttp = true }))
            {
                server.Upgrading += (s, e) =>
                {
                    if (e.IsPlainHttp)
                        e.Respond(200, "ok");
                };
                server.ClientConnected += (s, e) => connected.Add(e.Connection);
                server.Start();
                var port = server.Port;
                Assert.Equal(200, (await RawHttp(port, "GET", "/healthz")).Status, "healthy before the drain");
                using (var client = await Connect(new Uri("ws://127.0.0.1:" + port + "/")))
                using (var silent = await SilentWebSocket(port))
                {
                    Take(connected, "the client's connection");
                    Take(connected, "the silent peer's connection");
                    Assert.True(!server.Stopped.IsCompleted, "not stopped before the drain");
                    var drained = server.DrainAsync((WebSocketCloseStatus)1012, "restart", TimeSpan.FromSeconds(5));
                    var close = await client.ReceiveAsync(CancellationToken.None);
                    Assert.Equal(WebSocketMessageType.Close, close.MessageType, "the client sees the close");
                    Assert.Equal((WebSocketCloseStatus?)1012, client.CloseStatus, "the drain's code");
                    Assert.Equal("restart", client.CloseStatusDescription, "the drain's reason");

                    // The silent peer holds the drain open: meanwhile handshakes and plain HTTP get 503.
                    using (var late = new WsxClient())
                    {
                        var e = await Assert.ThrowsAsync<WsxException>(() => late.ConnectAsync(new Uri("ws://127.0.0.1:" + port + "/"), CancellationToken.None), "a handshake during the drain");
                        Assert.Equal((int?)503, e.HttpStatus, "503 during the drain");
                    }
                    Assert.Equal(503, (await RawHttp(port, "GET", "/healthz")).Status, "the health check fails over during the drain");
                    Assert.True(!drained.IsCompleted, "the drain waits for the silent peer");
                    // A second call changes nothing (no 1000 frame, no earlier deadline) and ends with the first.
                    var again = server.DrainAsync(WebSocketCloseStatus.NormalClosure, null, TimeSpan.Zero);

                    // The silent peer got the close frame too: 0x88, then 1012 and "restart".
                    var frame = new byte[2 + 2 + 7];
                    var stream = silent.GetStream();
                    int got = 0;
                    while (got < frame.Length)
                    {
                        int n = await WithTimeout(stream.ReadAsync(frame, got, frame.Length - got), "the close frame");
                        Assert.True(n > 0, "the close frame arrives whole");
                        got += n;
                    }
                    Assert.Bytes(new byte[] { 0x88, 9, 0x03, 0xF4 }.Concat(Encoding.ASCII.GetBytes("restart")).ToArray(), frame, "the close frame");

                    await WithTimeout(drained.ContinueWith(t => true), "the drain's end");
                    Assert.True(drained.Status == TaskStatus.RanToCompletion, "DrainAsync completed: " + drained.Status);
                    Assert.True(server.Stopped.IsCompleted, "Stopped completed");
                    await WithTimeout(again.ContinueWith(t => t.Status), "the second call's task");
                    Assert.True(again.Status == TaskStatus.RanToCompletion, "the second DrainAsync completed too: " + again.Status);
                    Assert.Equal(0, await WithTimeout(stream.ReadAsync(frame, 0, frame.Length), "the drop"), "the silent peer is dropped at the deadline");
                }
                using (var tcp = new TcpClient())
                {
                    var refused = await Assert.ThrowsAsync<SocketException>(() => tcp.ConnectAsync("127.0.0.1", port), "no listener after the drain");
                    Assert.True(refused != null, "refused");
                }
            }
        }
    }
}
