using System;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>
    /// InlineCompletions: where the code after await ReceiveAsync runs (the loop thread, with the
    /// option; a pool thread without), echoes through every API with it on, and the guard that
    /// fails a blocking wait on the loop thread for what only the loop completes.
    /// </summary>
    internal static partial class Program
    {
        static void InlineTests(Runner runner, Peer echo)
        {
            runner.Run("InlineCompletions: the code after await ReceiveAsync, and a MessageReceived handler, run on the loop thread (off: the pool)", () => InlineThreads(echo));
            runner.Run("InlineCompletions: request-response: answers at once and late, every API, both ends inline", () => PaceAnswers(true));
            runner.Run("InlineCompletions: Abort, Dispose and a cancel reach a waiting receive", () => PaceEnds(true));
            runner.Run("InlineCompletions: a blocking wait on the loop thread for a send, a close or a connect fails at once", InlineBlockingWaits);
        }

        /// <summary>Where each continuation ran, against the loop thread a Connected handler saw.</summary>
        static async Task InlineThreads(Peer echo)
        {
            foreach (var inline in new[] { true, false })
            {
                using (var server = new WsxServer(new WsxServerOptions { InlineCompletions = inline }))
                {
                    // The server side: a connection read with ReceiveAsync from ClientConnected on.
                    var serverSide = new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously);
                    server.ClientConnected += async (s, e) =>
                    {
                        try
                        {
                            var buffer = new byte[64];
                            var r = await e.Connection.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None).ConfigureAwait(false);
                            serverSide.TrySetResult(Thread.CurrentThread);
                            await e.Connection.SendAsync(new ArraySegment<byte>(buffer, 0, r.Count), r.MessageType, true, CancellationToken.None).ConfigureAwait(false);
                            while (true)
                            {
                                r = await e.Connection.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None).ConfigureAwait(false);
                                if (r.MessageType == WebSocketMessageType.Close)
                                    return;
                                await e.Connection.SendAsync(new ArraySegment<byte>(buffer, 0, r.Count), r.MessageType, true, CancellationToken.None).ConfigureAwait(false);
                            }
                        }
                        catch (Exception error)
                        {
                            serverSide.TrySetException(error);
                        }
                    };
                    server.Start();
                    var url = new Uri("ws://127.0.0.1:" + server.Port + "/");
                    var loopSeen = new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously);
                    var client = new WsxClient(Inline(inline));
                    client.Connected += (s, e) => loopSeen.TrySetResult(Thread.CurrentThread);
                    Thread loop;
                    using (client)
                    {
                        await client.ConnectAsync(url, CancellationToken.None).ConfigureAwait(false);
                        loop = await loopSeen.Task.ConfigureAwait(false);
                        Assert.True(!loop.IsThreadPoolThread, "a Connected handler runs on the loop thread");
                        WebSocket ws = client;
                        var buffer = new byte[64];
                        // Awaited before anything was sent (so it waits for the answer; awaited after the
                        // send, a fast answer may be there first and the await goes on at once).
                        var receive = ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None);
                        Assert.True(!receive.IsCompleted, "a receive before any message waits");
                        var after = ThreadAfter(receive);
                        await client.SendAsync("one", CancellationToken.None).ConfigureAwait(false);
                        Assert.Equal(3, (await receive.ConfigureAwait(false)).Count, "the echo of one");
                        OnThread(inline, loop, await after, "after await ReceiveAsync(buffer)");
                        Assert.True(inline ? !(await serverSide.Task).IsThreadPoolThread : (await serverSide.Task).IsThreadPoolThread,
                            "a server connection's ReceiveAsync continued on " + (inline ? "a loop thread" : "the pool"));

                        var message = client.ReceiveAsync(CancellationToken.None);
                        Assert.True(!message.IsCompleted, "a message receive before any message waits");
                        after = ThreadAfter(message);
                        await client.SendAsync("two", CancellationToken.None).ConfigureAwait(false);
                        Assert.Equal("two", (await message.ConfigureAwait(false)).Text, "the echo of two");
                        OnThread(inline, loop, await after, "after await ReceiveAsync(token)");
                        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None).ConfigureAwait(false);
                    }

                    // Events, against the C echo server (another process): a handler that sends the
                    // next message. Once one runs on the loop thread, its send goes out after the
                    // delivery waits again, so every later one does too (the first may find its
                    // message there already, on the pool). Against a server on this loop, the loop
                    // thread could answer each send before a delivery on the pool waits again.
                    var events = new WsxClient(Inline(inline));
                    var last = new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously);
                    int count = 0;
                    var seen = new System.Text.StringBuilder();
                    events.MessageReceived += (s, e) =>
                    {
                        seen.Append(Thread.CurrentThread.ManagedThreadId + (Thread.CurrentThread.IsThreadPoolThread ? "p " : " "));
                        if (++count == 20)
                            last.TrySetResult(Thread.CurrentThread);
                        else
                            events.SendAsync("event " + count, CancellationToken.None);
                    };
                    using (events)
                    {
                        await events.ConnectAsync(echo.Url(), CancellationToken.None).ConfigureAwait(false);
                        await events.SendAsync("event 0", CancellationToken.None).ConfigureAwait(false);
                        var thread = await last.Task.ConfigureAwait(false);
                        Assert.True(inline ? thread == loop : thread.IsThreadPoolThread, "the 20th MessageReceived handler ran on " + (inline ? "the loop thread" : "the pool") + ": " + seen + " loop " + loop.ManagedThreadId);
                    }
                }
            }
        }

        /// <summary>The thread the code after <c>await <paramref name="receive"/></c> runs on.</summary>
        static async Task<Thread> ThreadAfter(Task receive)
        {
            await receive.ConfigureAwait(false);
            return Thread.CurrentThread;
        }

        /// <summary>
        /// Runs <paramref name="then"/> after <c>await ReceiveAsync</c> of an answer to a message sent
        /// once the await is in place: with InlineCompletions, on the loop thread.
        /// </summary>
        static async Task AfterAnswer(WsxConnection connection, Action then)
        {
            var receive = connection.ReceiveAsync(CancellationToken.None);
            var after = Then(receive, then);
            await connection.SendAsync("go", CancellationToken.None);
            await after;
        }

        static async Task Then(Task receive, Action then)
        {
            await receive.ConfigureAwait(false);
            Assert.True(!Thread.CurrentThread.IsThreadPoolThread, "continued on the loop thread");
            then();
        }

        static void OnThread(bool inline, Thread loop, Thread current, string where)
        {
            if (inline)
                Assert.True(current == loop, where + ": on the loop thread (InlineCompletions), not " + current.ManagedThreadId);
            else
                Assert.True(current != loop && current.IsThreadPoolThread, where + ": on a pool thread, not the loop's");
        }

        /// <summary>
        /// On the loop thread (after an inline completion): Wait on a send that waits for room, on a
        /// close, on a connect, fails with InvalidOperationException instead of blocking the loop
        /// forever; the send is abandoned; awaiting the same calls works.
        /// </summary>
        static async Task InlineBlockingWaits()
        {
            using (var server = PaceServer())
            {
                var url = new Uri("ws://127.0.0.1:" + server.Port + "/");
                var options = Inline(true);
                options.SendLowWaterMark = 512;
                options.SendHighWaterMark = 1024;
                using (var client = await Connect(url, options))
                await AfterAnswer(client, () =>
                {
                    // The loop cannot write while this runs: the queue passes its mark.
                    var big = new ArraySegment<byte>(new byte[64 * 1024]);
                    Task waiting = null;
                    for (int i = 0; i < 4096 && waiting == null; i++)
                    {
                        var sent = client.SendAsync(big, WebSocketMessageType.Binary, true, CancellationToken.None);
                        if (!sent.IsCompleted)
                            waiting = sent;
                    }
                    Assert.True(waiting != null, "a send past the high-water mark waits");
                    var error = Assert.Throws<AggregateException>(() => waiting.Wait(), "Wait on it on the loop thread");
                    Assert.True(error.InnerException is InvalidOperationException, "Wait: an InvalidOperationException, not " + error.InnerException);
                    Assert.True(waiting.IsFaulted, "the send's task failed");
                    Assert.Throws<InvalidOperationException>(() => client.SendAsync(big, WebSocketMessageType.Binary, true, CancellationToken.None).GetAwaiter().GetResult(),
                        "GetAwaiter().GetResult() on the next one");
                    using (var other = new WsxClient())
                    {
                        var connectError = Assert.Throws<AggregateException>(() => other.ConnectAsync(url, CancellationToken.None).Wait(), "Wait on a ConnectAsync");
                        Assert.True(connectError.InnerException is InvalidOperationException, "Wait on a connect: an InvalidOperationException, not " + connectError.InnerException);
                    }
                });

                using (var client = await Connect(url, Inline(true)))
                {
                    await AfterAnswer(client, () =>
                    {
                        var error = Assert.Throws<AggregateException>(() => client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).Wait(),
                            "Wait on a CloseAsync on the loop thread");
                        Assert.True(error.InnerException is InvalidOperationException, "Wait on a close: an InvalidOperationException, not " + error.InnerException);
                    });
                    // Awaited, the same close completes (the close itself went on).
                    await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    Assert.Equal(WebSocketState.Closed, client.State, "closed once awaited");
                    Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus, "the echo server answered the close");
                }
            }
        }
    }
}
