using System;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>
    /// Request-response at the network's pace: answers that come at once and answers that come
    /// late; a message read whole goes straight into an array of its size; a send queued at once
    /// returns a finished task. Each path gives the same answers and failures as the others (no
    /// timing is asserted).
    /// </summary>
    internal static partial class Program
    {
        static void PaceTests(Runner runner)
        {
            runner.Run("WsxServer: request-response: answers at once and late, every API", () => PaceAnswers(false));
            runner.Run("WsxServer: request-response: Abort, Dispose and a cancel reach a receive right after fast answers", () => PaceEnds(false));
            runner.Run("WsxServer: SendAsync with flags fails in its task, as an async method does", SendFailsInTask);
        }

        /// <summary>
        /// A WsxServer that echoes at once, or, for a message that starts with "slow", after 50 ms
        /// (a receive that found nothing awaits it); with <paramref name="inline"/>, its handler runs
        /// on the loop thread (InlineCompletions).
        /// </summary>
        static WsxServer PaceServer(bool inline = false)
        {
            var server = new WsxServer(new WsxServerOptions { InlineCompletions = inline });
            server.MessageReceived += (s, e) =>
            {
                var m = e.Message;
                if (m.MessageType == WebSocketMessageType.Text && m.Text.StartsWith("slow", StringComparison.Ordinal))
                    Thread.Sleep(50);
                e.Connection.SendAsync(new ArraySegment<byte>(m.Data), m.MessageType, CancellationToken.None).Wait();
            };
            server.Start();
            return server;
        }

        /// <summary>Options of a client with <see cref="WsxConnectionOptions.InlineCompletions"/> as given.</summary>
        static WsxClientOptions Inline(bool inline)
        {
            return new WsxClientOptions { InlineCompletions = inline };
        }

        static async Task PaceAnswers(bool inline)
        {
            using (var server = PaceServer(inline))
            using (var client = await Connect(new Uri("ws://127.0.0.1:" + server.Port + "/"), Inline(inline)))
            {
                WebSocket ws = client;
                var buffer = new byte[70000];
                // Fast answers, then a slow one, then fast again: what a receive reads is the same
                // whichever way it waited.
                foreach (var size in new[] { 0, 1, 256, 65536, 70000 })
                {
                    var data = new byte[size];
                    for (int i = 0; i < size; i++)
                        data[i] = (byte)(i * 7 + size);
                    for (int round = 0; round < 20; round++)
                    {
                        await ws.SendAsync(new ArraySegment<byte>(data), WebSocketMessageType.Binary, true, CancellationToken.None);
                        var got = 0;
                        WebSocketReceiveResult r;
                        do
                        {
                            r = await ws.ReceiveAsync(new ArraySegment<byte>(buffer, got, Math.Min(4096, buffer.Length - got)), CancellationToken.None);
                            got += r.Count;
                        }
                        while (!r.EndOfMessage);
                        Assert.Equal(WebSocketMessageType.Binary, r.MessageType, "ReceiveAsync(buffer): the type of " + size + " B");
                        var echo = new byte[got];
                        Array.Copy(buffer, echo, got);
                        Assert.Bytes(data, echo, "ReceiveAsync(buffer): " + size + " B in 4 KiB parts, round " + round);

                        await client.SendAsync(new ArraySegment<byte>(data), WebSocketMessageType.Binary, CancellationToken.None);
                        var whole = await client.ReceiveAsync(CancellationToken.None);
                        Assert.Equal(WebSocketMessageType.Binary, whole.MessageType, "ReceiveAsync(token): the type of " + size + " B");
                        Assert.Bytes(data, whole.Data, "ReceiveAsync(token): " + size + " B, round " + round);
                    }
                    await client.SendAsync("slow " + size, CancellationToken.None);
                    Assert.Equal("slow " + size, (await client.ReceiveAsync(CancellationToken.None)).Text, "a slow answer after fast ones");
                }
            }
            // The event API (on a connection of its own): the handler sends the next message.
            using (var server = PaceServer(inline))
            using (var client = await Connect(new Uri("ws://127.0.0.1:" + server.Port + "/"), Inline(inline)))
            {
                var events = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                int count = 0;
                client.MessageReceived += (s, e) =>
                {
                    var n = ++count;
                    if (e.Message.Text != (n == 51 ? "slow" : "") + "event " + (n - 1))
                        events.TrySetException(new Exception("event " + n + " was " + e.Message.Text));
                    else if (n == 100)
                        events.TrySetResult(true);
                    else
                        client.SendAsync((n == 50 ? "slow" : "") + "event " + n, CancellationToken.None).Wait();
                };
                await client.SendAsync("event 0", CancellationToken.None);
                Assert.True(await Task.WhenAny(events.Task, Task.Delay(TimeSpan.FromSeconds(60))) == events.Task, "100 events in order");
                await events.Task;
            }
        }

        static async Task PaceEnds(bool inline)
        {
            using (var server = PaceServer(inline))
            {
                var url = new Uri("ws://127.0.0.1:" + server.Port + "/");
                foreach (var end in new[] { "abort", "dispose", "cancel" })
                {
                    using (var client = await Connect(url, Inline(inline)))
                    using (var cts = new CancellationTokenSource())
                    {
                        for (int i = 0; i < 20; i++)
                        {
                            await client.SendAsync("fast", CancellationToken.None);
                            Assert.Equal("fast", (await client.ReceiveAsync(CancellationToken.None)).Text, end + ": fast answer " + i);
                        }
                        // Nothing comes: the receive waits while another thread ends it.
                        var waiting = Task.Run(() => client.ReceiveAsync(cts.Token));
                        if (end == "abort")
                        {
                            client.Abort();
                            await Assert.ThrowsAsync<WsxException>(() => waiting, "a receive waiting when Abort came");
                            Assert.Equal(WebSocketState.Aborted, client.State, "state after Abort");
                        }
                        else if (end == "dispose")
                        {
                            client.Dispose();
                            // The receive fails, or, had Dispose come first, was refused.
                            try
                            {
                                await waiting;
                                throw new Exception("a receive waiting when Dispose came returned");
                            }
                            catch (ObjectDisposedException)
                            {
                            }
                            catch (WebSocketException e)
                            {
                                Assert.True(e.InnerException is WsxException, "a receive waiting when Dispose came: " + e);
                            }
                        }
                        else
                        {
                            cts.Cancel();
                            await Assert.ThrowsAsync<OperationCanceledException>(() => waiting, "a receive waiting when its token was cancelled");
                            await client.SendAsync("after the cancel", CancellationToken.None);
                            Assert.Equal("after the cancel", (await client.ReceiveAsync(CancellationToken.None)).Text, "the next receive gets the next message whole");
                        }
                    }
                }
            }
        }

        static async Task SendFailsInTask()
        {
            using (var server = PaceServer())
            {
                var client = await Connect(new Uri("ws://127.0.0.1:" + server.Port + "/"));
                Task sent = null;
                sent = client.SendAsync(default(ArraySegment<byte>), WebSocketMessageType.Binary, WsxSendFlags.None, CancellationToken.None);
                await Assert.ThrowsAsync<ArgumentNullException>(() => sent, "no array: in the task");
                sent = client.SendAsync(new ArraySegment<byte>(new byte[1]), WebSocketMessageType.Close, WsxSendFlags.None, CancellationToken.None);
                await Assert.ThrowsAsync<ArgumentException>(() => sent, "a Close type: in the task");
                using (var cts = new CancellationTokenSource())
                {
                    cts.Cancel();
                    sent = client.SendAsync(new ArraySegment<byte>(new byte[1]), WebSocketMessageType.Binary, WsxSendFlags.None, cts.Token);
                    await Assert.ThrowsAsync<OperationCanceledException>(() => sent, "a cancelled token");
                    Assert.True(sent.IsCanceled, "a cancelled token cancels the task");
                }
                sent = client.SendAsync(new ArraySegment<byte>(new byte[1]), WebSocketMessageType.Binary, WsxSendFlags.None, CancellationToken.None);
                Assert.True(sent.Status == TaskStatus.RanToCompletion, "a send queued at once is finished");
                await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                sent = client.SendAsync(new ArraySegment<byte>(new byte[1]), WebSocketMessageType.Binary, WsxSendFlags.None, CancellationToken.None);
                await Assert.ThrowsAsync<WsxException>(() => sent, "after the close: in the task");
                client.Dispose();
                sent = client.SendAsync(new ArraySegment<byte>(new byte[1]), WebSocketMessageType.Binary, WsxSendFlags.None, CancellationToken.None);
                await Assert.ThrowsAsync<ObjectDisposedException>(() => sent, "after Dispose: in the task");
            }
        }
    }
}
