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
    /// <summary>Publish/subscribe on a <see cref="WsxServer"/>: topics, fan-out, skipping the publisher, slow subscribers.</summary>
    internal static partial class Program
    {
        static void PubSubTests(Runner runner)
        {
            runner.Run("pub/sub: fan-out, skip the publisher, unsubscribe, close leaves topics, publish from threads", PubSubFanOut);
            runner.Run("pub/sub: a stalled subscriber is skipped, with the SlowSubscriber event", () => SlowSubscriber(WsxSlowSubscriberPolicy.Skip));
            runner.Run("pub/sub: a stalled subscriber is dropped, with the SlowSubscriber event", () => SlowSubscriber(WsxSlowSubscriberPolicy.Drop));
        }

        static T Take<T>(BlockingCollection<T> events, string what)
        {
            T item;
            Assert.True(events.TryTake(out item, TimeSpan.FromSeconds(60)), what);
            return item;
        }

        /// <summary>Receives one message and checks it is <paramref name="expected"/> (text) or the bytes 1, 2, 3 for "bin".</summary>
        static async Task Expect(WsxClient client, string expected, string who)
        {
            var m = await client.ReceiveAsync(CancellationToken.None);
            if (expected == "bin")
            {
                Assert.Equal(WebSocketMessageType.Binary, m.MessageType, who + ": type of the binary message");
                Assert.Bytes(new byte[] { 1, 2, 3 }, m.Data, who + ": the binary message");
                return;
            }
            Assert.Equal(WebSocketMessageType.Text, m.MessageType, who + ": type of " + expected);
            Assert.Equal(expected, m.Text, who + ": next message");
        }

        static async Task PubSubFanOut()
        {
            const int count = 5;
            using (var server = new WsxServer(new WsxServerOptions()))
            {
                var members = new BlockingCollection<KeyValuePair<int, WsxConnection>>();
                var disconnected = new BlockingCollection<WsxConnection>();
                // Subscribing from inside a handler, on the loop thread.
                server.ClientConnected += (s, e) => e.Connection.Subscribe("all");
                server.MessageReceived += (s, e) => members.Add(new KeyValuePair<int, WsxConnection>(int.Parse(e.Message.Text), e.Connection));
                server.ClientDisconnected += (s, e) => disconnected.Add(e.Connection);
                Assert.Throws<InvalidOperationException>(() => server.Publish("all", "too early"), "Publish before Start");
                server.Start();
                var url = new Uri("ws://127.0.0.1:" + server.Port + "/");

                var clients = new List<WsxClient>();
                var conns = new WsxConnection[count];
                for (int i = 0; i < count; i++)
                {
                    clients.Add(await Connect(url));
                    await clients[i].SendAsync(i.ToString(), CancellationToken.None);
                }
                for (int i = 0; i < count; i++)
                {
                    var member = Take(members, "member " + i + " said who it is");
                    conns[member.Key] = member.Value;
                }
                Assert.Equal(count, server.SubscriberCount("all"), "subscribers of all");
                for (int i = 0; i < 4; i++)
                    conns[i].Subscribe("news");
                conns[0].Subscribe("other");
                conns[4].Subscribe("other");
                conns[4].Subscribe("other"); // twice is harmless
                Assert.Equal(4, server.SubscriberCount("news"), "subscribers of news");
                Assert.Equal(2, server.SubscriberCount("other"), "subscribers of other");
                Assert.Equal(0, server.SubscriberCount("nobody"), "subscribers of an unknown topic");

                Assert.Equal(4, server.Publish("news", "n1"), "reached by n1");
                Assert.Equal(3, server.Publish("news", new ArraySegment<byte>(new byte[] { 9, 1, 2, 3, 9 }, 1, 3), WebSocketMessageType.Binary, conns[1]),
                    "reached by the binary message, skipping its publisher");
                Assert.Equal(2, server.Publish("other", "o1"), "reached by o1");
                Assert.Equal(0, server.Publish("nobody", "lost"), "reached on a topic nobody follows");
                Assert.True(conns[2].Unsubscribe("news"), "2 was subscribed to news");
                Assert.True(!conns[2].Unsubscribe("news"), "then it was not");
                Assert.Equal(3, server.Publish("news", "n2"), "reached by n2");
                Assert.Equal(count, server.Publish("all", "end"), "reached by end");
                var expected = new[]
                {
                    new[] { "n1", "bin", "o1", "n2", "end" },
                    new[] { "n1", "n2", "end" },
                    new[] { "n1", "bin", "end" },
                    new[] { "n1", "bin", "n2", "end" },
                    new[] { "o1", "end" },
                };
                for (int i = 0; i < count; i++)
                    foreach (var m in expected[i])
                        await Expect(clients[i], m, "client " + i);

                // Closing leaves every topic.
                await clients[3].CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                Assert.True(ReferenceEquals(conns[3], Take(disconnected, "client 3 left")), "the connection that left");
                Assert.Equal(2, server.SubscriberCount("news"), "subscribers of news after a close");
                Assert.Equal(count - 1, server.SubscriberCount("all"), "subscribers of all after a close");
                var closedError = Assert.Throws<WsxException>(() => conns[3].Subscribe("news"), "Subscribe on a closed connection");
                Assert.Equal(WsxResult.Closed, closedError.Result, "its result code");
                Assert.Equal(2, server.Publish("news", "n3", conns[3]), "skipping a closed connection is harmless");
                await Expect(clients[0], "n3", "client 0");
                await Expect(clients[1], "n3", "client 1");

                // Several threads publish at once: each subscriber gets every message once, in each thread's order.
                const int threads = 4, perThread = 250;
                var start = new Barrier(threads);
                var publishers = Enumerable.Range(0, threads).Select(t => Task.Factory.StartNew(() =>
                {
                    start.SignalAndWait();
                    for (int i = 0; i < perThread; i++)
                        Assert.Equal(2, server.Publish("news", t + ":" + i), "reached by " + t + ":" + i);
                }, TaskCreationOptions.LongRunning)).ToArray();
                foreach (var client in clients.Take(2))
                {
                    var next = new int[threads];
                    for (int n = 0; n < threads * perThread; n++)
                    {
                        var parts = (await client.ReceiveAsync(CancellationToken.None)).Text.Split(':');
                        int t = int.Parse(parts[0]), i = int.Parse(parts[1]);
                        Assert.Equal(next[t], i, "order of thread " + t + "'s messages");
                        next[t]++;
                    }
                }
                await Task.WhenAll(publishers);

                Assert.Throws<InvalidOperationException>(() => clients[0].Subscribe("news"), "Subscribe on a WsxClient");
                Assert.Throws<ArgumentNullException>(() => server.Publish(null, "x"), "a null topic");
                Assert.Throws<ArgumentNullException>(() => conns[0].Subscribe(null), "subscribing to a null topic");
                var notUtf8 = Assert.Throws<WsxException>(
                    () => server.Publish("news", new ArraySegment<byte>(new byte[] { 0xff }), WebSocketMessageType.Text), "text that is not UTF-8");
                Assert.Equal(WsxResult.InvalidArgument, notUtf8.Result, "its result code");
                foreach (var client in clients)
                    client.Dispose();
            }
        }

        /// <summary>
        /// A subscriber that never reads next to one that does: publishing 1 MiB messages in
        /// lockstep with the reader fills only the stalled one's queue, until it passes the
        /// high-water mark and the policy applies to it alone.
        /// </summary>
        static async Task SlowSubscriber(WsxSlowSubscriberPolicy policy)
        {
            using (var server = new WsxServer(new WsxServerOptions { SlowSubscriberPolicy = policy }))
            {
                var connected = new BlockingCollection<WsxConnection>();
                var disconnected = new BlockingCollection<WsxClosedEventArgs>();
                var slow = new BlockingCollection<WsxSlowSubscriberEventArgs>();
                server.ClientConnected += (s, e) =>
                {
                    e.Connection.Subscribe("feed");
                    connected.Add(e.Connection);
                };
                server.ClientDisconnected += (s, e) => disconnected.Add(e);
                server.SlowSubscriber += (s, e) => slow.Add(e);
                server.Start();
                using (var stalled = new StalledClient(server.Port))
                using (var reader = new WsxClient())
                {
                    var stalledConn = Take(connected, "the stalled client connected");
                    var arrived = new SemaphoreSlim(0);
                    reader.MessageReceived += (s, e) => arrived.Release();
                    await reader.ConnectAsync(new Uri("ws://127.0.0.1:" + server.Port + "/"), CancellationToken.None);
                    Take(connected, "the reader connected");

                    var chunk = new ArraySegment<byte>(new byte[1 << 20]);
                    int reached = 2, published = 0;
                    // Bounded: the queue passes its 17 MiB mark after about that many messages plus the socket buffers.
                    while (reached == 2 && published < 200)
                    {
                        reached = server.Publish("feed", chunk, WebSocketMessageType.Binary);
                        published++;
                        Assert.True(await arrived.WaitAsync(TimeSpan.FromSeconds(60)), "the reader got message " + published);
                    }
                    Assert.Equal(1, reached, "a publish reached only the reader after " + published + " messages");
                    var e1 = Take(slow, "the SlowSubscriber event");
                    Assert.True(ReferenceEquals(stalledConn, e1.Connection), "it names the stalled connection");
                    Assert.Equal("feed", e1.Topic, "and the topic");
                    Assert.Equal(policy, e1.Action, "and what was done");
                    if (policy == WsxSlowSubscriberPolicy.Skip)
                    {
                        Assert.Equal(WebSocketState.Open, stalledConn.State, "a skipped subscriber stays connected");
                        Assert.Equal(2, server.SubscriberCount("feed"), "and subscribed");
                        Assert.Equal(1, server.Publish("feed", chunk, WebSocketMessageType.Binary), "the next publish skips it too");
                        Assert.True(await arrived.WaitAsync(TimeSpan.FromSeconds(60)), "the reader got it");
                        Assert.Equal(WsxSlowSubscriberPolicy.Skip, Take(slow, "another SlowSubscriber event").Action, "skipped again");
                    }
                    else
                    {
                        var gone = Take(disconnected, "the dropped subscriber's ClientDisconnected");
                        Assert.True(ReferenceEquals(stalledConn, gone.Connection), "for the stalled connection");
                        Assert.Equal((WebSocketCloseStatus)1006, gone.CloseStatus, "with 1006");
                        Assert.Equal(1, server.SubscriberCount("feed"), "it left the topic");
                        Assert.Equal(1, server.Publish("feed", chunk, WebSocketMessageType.Binary), "the next publish reaches the reader");
                        Assert.True(await arrived.WaitAsync(TimeSpan.FromSeconds(60)), "the reader got it");
                    }
                    Assert.Equal(WebSocketState.Open, reader.State, "the reader was never held up");
                }
            }
        }
    }
}
