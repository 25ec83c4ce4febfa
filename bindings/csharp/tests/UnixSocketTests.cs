using System;
using System.Collections.Concurrent;
using System.IO;
using System.Linq;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>
    /// A <see cref="WsxServer"/> on a Unix domain socket: clients by Node's <c>ws+unix:</c> URL and
    /// by <see cref="WsxClientOptions.UnixSocketPath"/>, the addresses and Host header each side
    /// sees, a live server's socket never taken over, and the file removed when the server goes.
    /// </summary>
    internal static partial class Program
    {
        static void UnixSocketTests(Runner runner)
        {
            runner.Run("Unix socket: ws+unix: URL and UnixSocketPath, peer addresses, Host, the file's lifetime", UnixSocketServerAndClients);
        }

        static async Task UnixSocketServerAndClients()
        {
            var dir = Path.Combine(Path.GetTempPath(), "wsx-cs-unix-" + Guid.NewGuid().ToString("N").Substring(0, 8));
            Directory.CreateDirectory(dir);
            var path = Path.Combine(dir, "s.sock");
            try
            {
                var upgrades = new BlockingCollection<WsxUpgradeEventArgs>();
                var connected = new BlockingCollection<WsxConnection>();
                using (var server = new WsxServer(new WsxServerOptions { UnixSocketPath = path }))
                {
                    server.Upgrading += (s, e) => upgrades.Add(e);
                    server.ClientConnected += (s, e) => connected.Add(e.Connection);
                    server.MessageReceived += (s, e) => e.Connection.SendAsync("echo " + e.Message.Text, CancellationToken.None).Wait();
                    server.Start();
                    Assert.Equal(0, server.Port, "no port on a Unix socket");
                    Assert.True(File.Exists(path), "the socket file is there");

                    var byUrl = new Uri("ws+unix://" + path + ":/chat?x=1");
                    var byOption = new WsxClientOptions { UnixSocketPath = path };
                    foreach (var attempt in new[] { Tuple.Create(byUrl, (WsxClientOptions)null, "/chat?x=1", "localhost"),
                                                    Tuple.Create(new Uri("ws://app.example/opt"), byOption, "/opt", "app.example") })
                    {
                        using (var client = await Connect(attempt.Item1, attempt.Item2))
                        {
                            Assert.Equal("unix:" + path, client.RemoteAddress, "the client sees the server's path");
                            WsxUpgradeEventArgs upgrade;
                            Assert.True(upgrades.TryTake(out upgrade, TimeSpan.FromSeconds(60)), "Upgrading");
                            Assert.Equal(attempt.Item3, upgrade.Path, "resource");
                            Assert.Equal(attempt.Item4, upgrade.Headers["Host"].Single(), "Host header");
                            Assert.Equal("unix:", upgrade.PeerAddress, "a client's socket is unnamed");
                            WsxConnection serverSide;
                            Assert.True(connected.TryTake(out serverSide, TimeSpan.FromSeconds(60)), "ClientConnected");
                            Assert.Equal("unix:", serverSide.RemoteAddress, "server-side RemoteAddress");
                            await client.SendAsync("hi", CancellationToken.None);
                            Assert.Equal("echo hi", (await client.ReceiveAsync(CancellationToken.None)).Text, "echo over the socket");
                            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                        }
                    }

                    // A live server's socket is never removed, even when asked to remove stale ones.
                    using (var second = new WsxServer(new WsxServerOptions { UnixSocketPath = path, RemoveStaleSocket = true }))
                    {
                        var error = Assert.Throws<WsxException>(() => second.Start(), "a second server on the path");
                        Assert.Equal(WsxResult.Io, error.Result, "result");
                        Assert.True(error.Message.Contains("another server is listening"), error.Message);
                    }

                    // Dispose shuts down without waiting; the file is gone once the server stopped.
                    server.Dispose();
                    var stopped = await Task.WhenAny(server.Stopped, Task.Delay(TimeSpan.FromSeconds(60)));
                    Assert.True(stopped == server.Stopped, "the server stopped");
                    Assert.True(!File.Exists(path), "the socket file is removed with the server");
                }
            }
            finally
            {
                Directory.Delete(dir, true);
            }
        }
    }
}
