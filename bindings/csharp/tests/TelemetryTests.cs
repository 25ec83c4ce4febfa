using System;
using System.Collections.Concurrent;
using System.Linq;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>Telemetry: <see cref="WsxLog"/> receives the log lines, <see cref="WsxServer.Metrics"/>
    /// and <see cref="WsxServer.MetricsText"/> after a known traffic pattern.</summary>
    internal static partial class Program
    {
        static void TelemetryTests(Runner runner)
        {
            runner.Run("telemetry: WsxLog.Message gets opened/closed lines, Metrics and MetricsText count the traffic", Telemetry);
        }

        static bool WaitFor(Func<bool> done)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (!done() && DateTime.UtcNow < deadline)
                Thread.Sleep(5);
            return done();
        }

        static async Task Telemetry()
        {
            var lines = new ConcurrentQueue<WsxLogEventArgs>();
            EventHandler<WsxLogEventArgs> onLog = (s, e) => lines.Enqueue(e);
            WsxLog.Level = WsxLogLevel.Information;
            WsxLog.Message += onLog;
            try
            {
                using (var server = new WsxServer(new WsxServerOptions()))
                {
                    server.MessageReceived += (s, e) =>
                    {
                        var m = e.Message;
                        var reply = m.MessageType == WebSocketMessageType.Text
                            ? e.Connection.SendAsync(m.Text, CancellationToken.None)
                            : e.Connection.SendAsync(new ArraySegment<byte>(m.Data), WebSocketMessageType.Binary, CancellationToken.None);
                        reply.Wait();
                    };
                    server.Start();
                    var client = await Connect(new Uri("ws://127.0.0.1:" + server.Port + "/"));
                    for (int i = 0; i < 3; i++)
                    {
                        await client.SendAsync("hello", CancellationToken.None);
                        Assert.Equal("hello", (await client.ReceiveAsync(CancellationToken.None)).Text, "echo");
                    }
                    await client.SendAsync(new ArraySegment<byte>(new byte[100]), WebSocketMessageType.Binary, CancellationToken.None);
                    Assert.Equal(100, (await client.ReceiveAsync(CancellationToken.None)).Data.Length, "binary echo");
                    await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
                    client.Dispose();

                    Assert.True(WaitFor(() => server.Metrics.Closes[1000] == 1), "the server counted the close");
                    var metrics = server.Metrics;
                    Assert.Equal(0L, metrics.ConnectionsOpen, "ConnectionsOpen");
                    Assert.Equal(1L, metrics.ConnectionsOpened, "ConnectionsOpened");
                    Assert.Equal(1L, metrics.HandshakesAccepted, "HandshakesAccepted");
                    Assert.Equal(4L, metrics.MessagesIn, "MessagesIn");
                    Assert.Equal(115L, metrics.BytesIn, "BytesIn");
                    Assert.Equal(4L, metrics.MessagesOut, "MessagesOut");
                    Assert.Equal(115L, metrics.BytesOut, "BytesOut");
                    Assert.Equal(0L, metrics.HandshakesRefused.Values.Sum(), "no refusals");
                    Assert.Equal(0L, metrics.Closes[0], "no other close codes");
                    Assert.True(metrics.LastPingRoundTrip == null, "no ping answered");

                    var text = server.MetricsText();
                    Assert.True(text.EndsWith("# EOF\n"), "ends with # EOF");
                    Assert.True(text.Contains("\nwsx_messages_received_total 4\n"), text);
                    Assert.True(text.Contains("\nwsx_closes_total{code=\"1000\"} 1\n"), text);
                    Assert.True(WsxMetrics.ContentType.StartsWith("application/openmetrics-text"), WsxMetrics.ContentType);

                    Assert.True(WaitFor(() => lines.Any(l => l.Target == "wsx.conn" && l.Message.Contains("closed: code 1000 reason \"done\""))), "a closed line");
                    Assert.True(lines.Any(l => l.Level == WsxLogLevel.Information && l.Message.Contains(" opened from 127.0.0.1:")), "an opened line");
                }
            }
            finally
            {
                WsxLog.Message -= onLog;
            }
            GC.Collect();
            GC.WaitForPendingFinalizers();
            // Off: nothing more arrives.
            var count = lines.Count;
            using (var server = new WsxServer(new WsxServerOptions()))
            {
                server.Start();
                var client = await Connect(new Uri("ws://127.0.0.1:" + server.Port + "/"));
                await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                client.Dispose();
            }
            Assert.Equal(count, lines.Count, "no records after the last handler left");
        }
    }
}
