using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>Cluster pub/sub across two WsxServers through a redis-server of the test's own.</summary>
    internal static partial class Program
    {
        static void ClusterTests(Runner runner)
        {
            runner.Run("cluster: a publication on one server reaches the other's subscriber through Redis; state, stats, node id, a gap", ClusterAcrossServers);
            runner.Run("cluster: Redis gone, the server serves its own subscribers and reports Down", ClusterBrokerGone);
            runner.Run("cluster: without one, the cluster properties fail with WsxResult.State; bad options are refused", ClusterNone);
        }

        /// <summary>A redis-server on a free port of 127.0.0.1, killed on Dispose.</summary>
        sealed class Redis : IDisposable
        {
            readonly Process process;

            internal Redis()
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                Port = ((IPEndPoint)listener.LocalEndpoint).Port;
                listener.Stop();
                process = Process.Start(new ProcessStartInfo("redis-server", "--bind 127.0.0.1 --port " + Port + " --save \"\" --appendonly no")
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                });
                process.StandardOutput.ReadToEndAsync();
                var deadline = DateTime.UtcNow.AddSeconds(20);
                while (true)
                {
                    try
                    {
                        if (Command("PING").StartsWith("+PONG", StringComparison.Ordinal))
                            break;
                    }
                    catch (SocketException)
                    {
                    }
                    Assert.True(DateTime.UtcNow < deadline, "redis-server started");
                    Thread.Sleep(20);
                }
            }

            internal int Port { get; }

            internal string Url { get { return "redis://127.0.0.1:" + Port; } }

            /// <summary>Sends one command (RESP array of bulk strings); the reply as text.</summary>
            internal string Command(params object[] args)
            {
                using (var tcp = new TcpClient())
                {
                    tcp.Connect(IPAddress.Loopback, Port);
                    var request = new System.IO.MemoryStream();
                    Action<string> ascii = text => { var b = Encoding.ASCII.GetBytes(text); request.Write(b, 0, b.Length); };
                    ascii("*" + args.Length + "\r\n");
                    foreach (var arg in args)
                    {
                        var bytes = arg as byte[] ?? Encoding.UTF8.GetBytes((string)arg);
                        ascii("$" + bytes.Length + "\r\n");
                        request.Write(bytes, 0, bytes.Length);
                        ascii("\r\n");
                    }
                    var stream = tcp.GetStream();
                    stream.Write(request.ToArray(), 0, (int)request.Length);
                    var buffer = new byte[4096];
                    var n = stream.Read(buffer, 0, buffer.Length);
                    return Encoding.UTF8.GetString(buffer, 0, n);
                }
            }

            public void Dispose()
            {
                try
                {
                    if (!process.HasExited)
                        process.Kill();
                    process.WaitForExit();
                }
                catch (InvalidOperationException)
                {
                }
                process.Dispose();
            }
        }

        static void WaitUntil(Func<bool> check, string what)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!check())
            {
                Assert.True(DateTime.UtcNow < deadline, "timed out waiting until " + what);
                Thread.Sleep(10);
            }
        }

        /// <summary>The subscribers of a channel on Redis (PUBSUB NUMSUB).</summary>
        static int NumSub(Redis redis, string channel)
        {
            var lines = redis.Command("PUBSUB", "NUMSUB", channel).Split(new[] { "\r\n" }, StringSplitOptions.RemoveEmptyEntries);
            return int.Parse(lines[lines.Length - 1].TrimStart(':'));
        }

        /// <summary>A publication in the nodes' wire format (core/src/net/cluster/envelope.rs), to forge a gap.</summary>
        static byte[] Envelope(string node, ulong epoch, ulong seq, string text)
        {
            var bytes = new System.Collections.Generic.List<byte>(Encoding.ASCII.GetBytes("wsx\x01"));
            bytes.Add(1);
            bytes.Add((byte)node.Length);
            bytes.AddRange(Encoding.ASCII.GetBytes(node));
            for (int shift = 56; shift >= 0; shift -= 8)
                bytes.Add((byte)(epoch >> shift));
            for (int shift = 56; shift >= 0; shift -= 8)
                bytes.Add((byte)(seq >> shift));
            bytes.AddRange(Encoding.UTF8.GetBytes(text));
            return bytes.ToArray();
        }

        /// <summary>A server in the cluster whose connections subscribe to the topic their path names.</summary>
        static WsxServer RoomServer(WsxClusterOptions cluster, BlockingCollection<WsxClusterStateEventArgs> states, BlockingCollection<WsxClusterGapEventArgs> gaps)
        {
            var server = new WsxServer(new WsxServerOptions { Cluster = cluster });
            server.ClientConnected += (s, e) =>
            {
                e.Connection.Subscribe(e.Connection.RequestPath.Trim('/'));
                e.Connection.SendAsync("joined", CancellationToken.None).Wait();
            };
            // Read every connection (its messages are dropped), so each one's end is seen.
            server.MessageReceived += (s, e) => { };
            if (states != null)
                server.ClusterStateChanged += (s, e) => states.Add(e);
            if (gaps != null)
                server.ClusterGap += (s, e) => gaps.Add(e);
            server.Start();
            return server;
        }

        static async Task ClusterAcrossServers()
        {
            using (var redis = new Redis())
            {
                var statesA = new BlockingCollection<WsxClusterStateEventArgs>();
                var gapsA = new BlockingCollection<WsxClusterGapEventArgs>();
                var gapsB = new BlockingCollection<WsxClusterGapEventArgs>();
                using (var a = RoomServer(new WsxClusterOptions(redis.Url) { NodeId = "cs-a", Prefix = "cs:" }, statesA, gapsA))
                using (var b = RoomServer(new WsxClusterOptions(redis.Url) { Prefix = "cs:" }, null, gapsB))
                {
                    WsxClusterStateEventArgs up;
                    do
                        up = Take(statesA, "A's cluster state events");
                    while (up.State != WsxClusterState.Up);
                    Assert.True(up.Detail.Contains("connected"), "the Up event says why: " + up.Detail);
                    WaitUntil(() => b.ClusterState == WsxClusterState.Up, "B is up");
                    Assert.Equal("cs-a", a.ClusterNodeId, "A's node id as set");
                    Assert.True(!string.IsNullOrEmpty(b.ClusterNodeId) && b.ClusterNodeId != "cs-a", "B's random node id: " + b.ClusterNodeId);

                    using (var client = await Connect(new Uri("ws://127.0.0.1:" + b.Port + "/news")))
                    {
                        Assert.Equal("joined", (await client.ReceiveAsync(CancellationToken.None)).Text, "joined on B");
                        WaitUntil(() => NumSub(redis, "cs:news") == 1, "B subscribed on Redis");
                        Assert.Equal(0, a.Publish("news", "from a"), "nobody local on A");
                        Assert.Equal("from a", (await client.ReceiveAsync(CancellationToken.None)).Text, "A's publication on B's subscriber");
                        a.Publish("news", new ArraySegment<byte>(new byte[] { 0, 1 }), WebSocketMessageType.Binary);
                        Assert.Bytes(new byte[] { 0, 1 }, (await client.ReceiveAsync(CancellationToken.None)).Data, "binary too");

                        // A lost publication of another node shows as a gap on B.
                        redis.Command("PUBLISH", "cs:news", Envelope("fake", 3, 1, "one"));
                        redis.Command("PUBLISH", "cs:news", Envelope("fake", 3, 5, "five"));
                        Assert.Equal("one", (await client.ReceiveAsync(CancellationToken.None)).Text, "the forged first");
                        Assert.Equal("five", (await client.ReceiveAsync(CancellationToken.None)).Text, "the forged fifth");
                        var gap = Take(gapsB, "the gap event on B");
                        Assert.Equal("news", gap.Topic, "the gap's topic");
                        Assert.Equal("fake", gap.Node, "the gap's node");
                        Assert.Equal((ulong?)3, gap.Missed, "missed");
                        Assert.Equal(2UL, gap.Expected, "expected");
                        Assert.Equal(5UL, gap.Received, "received");
                        Assert.Equal(3UL, gap.Epoch, "epoch");
                        Assert.True(!gap.EpochChanged && gap.PreviousEpoch == null, "same epoch");

                        var sa = a.ClusterStats;
                        var sb = b.ClusterStats;
                        Assert.Equal(WsxClusterState.Up, sa.State, "A's stats state");
                        Assert.Equal(2UL, sa.Published, "A published two");
                        Assert.Equal(4UL, sb.Received, "B received four");
                        Assert.Equal(1UL, sb.Gaps, "one gap on B");
                        Assert.Equal(1UL, sb.Subscriptions, "one channel on B");
                        Assert.True(sa.Epoch != 0, "A's epoch");
                    }
                    // The client's Dispose dropped its connection: B left the channel.
                    WaitUntil(() => NumSub(redis, "cs:news") == 0, "B left the channel on Redis");
                    Assert.Equal(0UL, b.ClusterStats.Subscriptions, "no channel on B");
                    WsxClusterGapEventArgs extra;
                    Assert.True(!gapsA.TryTake(out extra), "no gap on A");
                }
            }
        }

        static async Task ClusterBrokerGone()
        {
            var states = new BlockingCollection<WsxClusterStateEventArgs>();
            WsxServer server;
            using (var redis = new Redis())
            {
                server = RoomServer(new WsxClusterOptions(redis.Url)
                {
                    Reconnect = new WsxReconnectPolicy { InitialDelay = TimeSpan.FromMilliseconds(50), MaxDelay = TimeSpan.FromMilliseconds(200) },
                    ConnectTimeout = TimeSpan.FromSeconds(2),
                    KeepAlive = TimeSpan.FromSeconds(1),
                }, states, null);
                WaitUntil(() => server.ClusterState == WsxClusterState.Up, "up");
            }
            using (server)
            {
                WsxClusterStateEventArgs down;
                do
                    down = Take(states, "the state events");
                while (down.State != WsxClusterState.Down);
                Assert.True(!string.IsNullOrEmpty(down.Detail), "Down says why");
                using (var client = await Connect(new Uri("ws://127.0.0.1:" + server.Port + "/local")))
                {
                    Assert.Equal("joined", (await client.ReceiveAsync(CancellationToken.None)).Text, "joined");
                    Assert.Equal(1, server.Publish("local", "still here"), "published to the local subscriber");
                    Assert.Equal("still here", (await client.ReceiveAsync(CancellationToken.None)).Text, "local delivery without Redis");
                }
                Assert.True(server.ClusterStats.Disconnects >= 1, "the lost link is counted");
            }
        }

        static Task ClusterNone()
        {
            using (var server = new WsxServer(new WsxServerOptions()))
            {
                server.Start();
                var e = Assert.Throws<WsxException>(() => { var s = server.ClusterState; }, "ClusterState without a cluster");
                Assert.Equal(WsxResult.State, e.Result, "WSX_ERR_STATE");
                Assert.Equal(WsxResult.State, Assert.Throws<WsxException>(() => { var s = server.ClusterStats; }, "ClusterStats").Result, "stats");
                Assert.Equal(WsxResult.State, Assert.Throws<WsxException>(() => { var s = server.ClusterNodeId; }, "ClusterNodeId").Result, "node id");
            }
            using (var server = new WsxServer(new WsxServerOptions { Cluster = new WsxClusterOptions("http://127.0.0.1:1") }))
            {
                var e = Assert.Throws<WsxException>(() => server.Start(), "a URL that is not redis://");
                Assert.Equal(WsxResult.InvalidArgument, e.Result, "invalid");
            }
            Assert.Throws<ArgumentOutOfRangeException>(
                () => new WsxServer(new WsxServerOptions { Cluster = new WsxClusterOptions("redis://127.0.0.1:1") { KeepAlive = TimeSpan.Zero } }).Start(),
                "a zero keepalive");
            return Task.CompletedTask;
        }
    }
}
