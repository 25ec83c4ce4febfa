using System;
using System.Collections.Generic;
using System.Linq;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>
    /// <see cref="WsxServerOptions.ReusePort"/>: two servers on one port, the kernel spreading clients
    /// over both; without the option the taken port is refused saying why; with a Unix socket the
    /// option is refused.
    /// </summary>
    internal static partial class Program
    {
        static void ReusePortTests(Runner runner)
        {
            if (Environment.OSVersion.Platform != PlatformID.Unix)
                return; // SO_REUSEPORT: Linux, macOS, BSDs (core/tests covers the refusal elsewhere)
            runner.Run("ReusePort: two servers share a port, a third without it and a Unix socket refused", ReusePortSharing);
        }

        static WsxServer NamedServer(string name, int port, bool reusePort)
        {
            var server = new WsxServer(new WsxServerOptions { Port = port, ReusePort = reusePort });
            server.MessageReceived += (s, e) => e.Connection.SendAsync(name, CancellationToken.None).Wait();
            return server;
        }

        static async Task ReusePortSharing()
        {
            // 16 clients all landing on one of two sockets: odds of 2^-15.
            const int clients = 16;
            using (var first = NamedServer("first", 0, true))
            {
                first.Start();
                using (var second = NamedServer("second", first.Port, true))
                {
                    second.Start();
                    Assert.Equal(first.Port, second.Port, "one port");
                    var seen = new List<string>();
                    for (int i = 0; i < clients; i++)
                    {
                        using (var client = await Connect(new Uri("ws://127.0.0.1:" + first.Port + "/")))
                        {
                            await client.SendAsync("who", CancellationToken.None);
                            seen.Add((await client.ReceiveAsync(CancellationToken.None)).Text);
                            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                        }
                    }
                    Assert.True(seen.Contains("first") && seen.Contains("second"), "both servers took clients: " + string.Join(",", seen));

                    using (var third = NamedServer("third", first.Port, false))
                    {
                        var error = Assert.Throws<WsxException>(() => third.Start(), "the port is taken");
                        Assert.Equal(WsxResult.Io, error.Result, "result");
                        Assert.True(error.Message.Contains("set reuse_port"), error.Message);
                    }
                }
            }
            using (var unix = new WsxServer(new WsxServerOptions { UnixSocketPath = "/tmp/wsx-cs-reuse.sock", ReusePort = true }))
            {
                var error = Assert.Throws<WsxException>(() => unix.Start(), "ReusePort with a Unix socket");
                Assert.Equal(WsxResult.InvalidArgument, error.Result, "result");
                Assert.True(error.Message.Contains("reuse_port"), error.Message);
            }
        }
    }
}
