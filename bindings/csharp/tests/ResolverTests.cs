using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>
    /// The application's resolver (<see cref="WsxClientOptions.Resolver"/>), Happy Eyeballs through
    /// it, IPv6 on ::1 (python-websockets serving there; a WsxServer listening there), and the
    /// loop's counters (<see cref="WsxLoop.Metrics"/>).
    /// </summary>
    internal static partial class Program
    {
        static void ResolverTests(Runner runner, Peer python, Peer pythonOnIpv6)
        {
            runner.Run("resolver: a name resolving to a dead IPv6 address and 127.0.0.1 opens over IPv4 (Happy Eyeballs)", () => HappyEyeballs(python));
            runner.Run("resolver: an answer from a task that completes later; faults and no address are Dns errors", () => ResolverAnswersLater(python));
            runner.Run("IPv6: a client to websockets on ::1, a WsxServer on ::1", () => Ipv6Loopback(pythonOnIpv6));
            runner.Run("WsxLoop.Metrics and MetricsText count a client's messages and bytes", () => LoopMetrics(python));
        }

        /// <summary>An address on ::1 whose connects hang, as on a dead IPv6 route: a listener
        /// that never accepts, its queue full (SYNs past it are dropped).</summary>
        sealed class BlackHole : IDisposable
        {
            readonly Socket listener = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
            readonly List<Socket> held = new List<Socket>();

            internal BlackHole()
            {
                listener.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
                listener.Listen(0);
                Address = (IPEndPoint)listener.LocalEndPoint;
                while (held.Count < 8)
                {
                    var s = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
                    held.Add(s);
                    if (!s.ConnectAsync(Address).Wait(300))
                        return; // unanswered: the queue is full
                }
                throw new InvalidOperationException("the accept queue of the black hole never filled");
            }

            internal IPEndPoint Address { get; }

            public void Dispose()
            {
                foreach (var s in held)
                    s.Dispose();
                listener.Dispose();
            }
        }

        static async Task HappyEyeballs(Peer python)
        {
            using (var dead = new BlackHole())
            {
                var asked = new ConcurrentQueue<string>();
                var options = new WsxClientOptions
                {
                    ConnectTimeout = TimeSpan.FromSeconds(5),
                    Resolver = (host, port) =>
                    {
                        asked.Enqueue(host + ":" + port);
                        return Task.FromResult<IEnumerable<IPEndPoint>>(new[] { dead.Address, new IPEndPoint(IPAddress.Loopback, port) });
                    },
                };
                using (var client = await Connect(new Uri("ws://dual.wsx.test:" + python.Port + "/"), options))
                {
                    await client.SendAsync("over IPv4", CancellationToken.None);
                    Assert.Equal("over IPv4", (await client.ReceiveAsync(CancellationToken.None)).Text, "echo");
                }
                Assert.Equal("dual.wsx.test:" + python.Port, string.Join(",", asked), "the resolver was asked once, for the URL's name and port");
            }
        }

        static async Task ResolverAnswersLater(Peer python)
        {
            var later = new WsxClientOptions
            {
                Resolver = async (host, port) =>
                {
                    await Task.Delay(50).ConfigureAwait(false);
                    return new[] { new IPEndPoint(IPAddress.Loopback, port) };
                },
            };
            using (var client = await Connect(new Uri("ws://later.wsx.test:" + python.Port + "/"), later))
            {
                await client.SendAsync("later", CancellationToken.None);
                Assert.Equal("later", (await client.ReceiveAsync(CancellationToken.None)).Text, "echo");
            }
            var cases = new Dictionary<string, WsxResolver>
            {
                ["not in the directory"] = async (host, port) =>
                {
                    await Task.Yield();
                    throw new KeyNotFoundException(host + " is not in the directory");
                },
                ["no addresses"] = (host, port) => Task.FromResult<IEnumerable<IPEndPoint>>(new IPEndPoint[0]),
                ["the resolver returned no task"] = (host, port) => null,
            };
            foreach (var c in cases)
            {
                using (var client = new WsxClient(new WsxClientOptions { Resolver = c.Value }))
                {
                    var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(new Uri("ws://gone.wsx.test/"), CancellationToken.None), c.Key);
                    Assert.Equal(WsxResult.Dns, e.Result, c.Key + ": the result");
                    Assert.True(e.Message.Contains(c.Key) && e.Message.Contains("gone.wsx.test"), c.Key + ": the message says so: " + e.Message);
                }
            }
        }

        static async Task Ipv6Loopback(Peer pythonOnIpv6)
        {
            using (var client = await Connect(new Uri("ws://[::1]:" + pythonOnIpv6.Port + "/")))
            {
                await client.SendAsync("to websockets on ::1", CancellationToken.None);
                Assert.Equal("to websockets on ::1", (await client.ReceiveAsync(CancellationToken.None)).Text, "echo over IPv6");
            }
            using (var server = new WsxServer(new WsxServerOptions { Host = "::1" }))
            {
                server.MessageReceived += (s, e) => e.Connection.SendAsync(e.Message.Text, CancellationToken.None).Wait();
                server.Start();
                using (var client = await Connect(new Uri("ws://[::1]:" + server.Port + "/")))
                {
                    await client.SendAsync("to wsx on ::1", CancellationToken.None);
                    Assert.Equal("to wsx on ::1", (await client.ReceiveAsync(CancellationToken.None)).Text, "echo from a WsxServer on ::1");
                }
            }
        }

        static async Task LoopMetrics(Peer python)
        {
            var before = WsxLoop.Metrics;
            using (var client = await Connect(python.Url()))
            {
                await client.SendAsync("hello", CancellationToken.None);
                Assert.Equal("hello", (await client.ReceiveAsync(CancellationToken.None)).Text, "text echo");
                await client.SendAsync(new ArraySegment<byte>(new byte[300]), WebSocketMessageType.Binary, CancellationToken.None);
                Assert.Equal(300, (await client.ReceiveAsync(CancellationToken.None)).Data.Length, "binary echo");
                Func<WsxMetrics, string> delta = m => string.Join(" ",
                    m.ConnectionsOpened - before.ConnectionsOpened, m.MessagesOut - before.MessagesOut, m.BytesOut - before.BytesOut,
                    m.MessagesIn - before.MessagesIn, m.BytesIn - before.BytesIn);
                Assert.True(WaitFor(() => delta(WsxLoop.Metrics) == "1 2 305 2 305"), "opened, messages and bytes out and in: " + delta(WsxLoop.Metrics));
                var text = WsxLoop.MetricsText();
                Assert.True(text.Contains("\nwsx_messages_sent_total " + WsxLoop.Metrics.MessagesOut + "\n") && text.EndsWith("# EOF\n"), text);
            }
        }
    }
}
