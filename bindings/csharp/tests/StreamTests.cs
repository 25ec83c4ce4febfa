using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>
    /// WsxWebSocket.CreateFromStream (issue 19): a WebSocket over any Stream, on the sans-I/O
    /// engine. Over an in-memory duplex pipe (both ends in this process), over a NetworkStream
    /// to the C echo server and the websockets peer (the test does the HTTP upgrade), and as the
    /// server side of a TcpListener, talked to by a WsxClient.
    /// </summary>
    internal static partial class Program
    {
        static void StreamTests(Runner runner, Peer echo, Peer python, Peer pythonDeflate)
        {
            runner.Run("stream pipe: text, binary, empty and UTF-8 messages echoed", PipeEcho);
            runner.Run("stream pipe: a message larger than the receive buffer (EndOfMessage false, then true)", PipeLargeMessage);
            runner.Run("stream pipe: SendAsync(endOfMessage: false) sends real fragments", PipeFragments);
            runner.Run("stream pipe: close codes both ways, CloseOutputAsync, states", PipeCloseBothWays);
            runner.Run("stream pipe: Abort fails a pending ReceiveAsync, the peer sees 1006", PipeAbort);
            runner.Run("stream pipe: Dispose during a pending ReceiveAsync (no hang), then ObjectDisposedException", PipeDisposeDuringReceive);
            runner.Run("stream pipe: one ReceiveAsync at a time, a SendAsync alongside it", PipeConcurrency);
            runner.Run("stream pipe: the read pump pauses past 1 MiB unread (backpressure) and resumes; GC between messages", PipeReadAhead);
            runner.Run("stream pipe: permessage-deflate parameters (DangerousDeflateOptions) compress", PipeDeflate);
            runner.Run("stream pipe: keepalive pings answered without a ReceiveAsync; a silent peer times out (1006)", PipeKeepAlive);
            runner.Run("stream pipe: bad arguments and a bad close code", PipeBadArguments);
            runner.Run("stream pipe: a peer breaking the protocol: ReceiveAsync throws, close 1002 goes out", PipeProtocolError);
            runner.Run("stream pipe: CloseAsync to a peer that never answers ends at the close timeout (1006); Abort ends a waiting CloseAsync", PipeCloseTimeout);
            foreach (var peer in new[] { echo, python })
            {
                var p = peer;
                runner.Run(p.Name + ": stream: a NetworkStream upgraded by hand, echo, fragments, close", () => NetworkStreamClient(p));
            }
            runner.Run("websockets with deflate: stream: the agreed permessage-deflate parameters", () => NetworkStreamDeflate(pythonDeflate));
            runner.Run("stream server: a TcpListener's NetworkStream (isServer) talked to by a WsxClient", NetworkStreamServer);
            runner.Run("wss: stream: an SslStream below the WebSocket, to a TLS WsxServer", SslStreamClient);
        }

        // ------------------------------------------------------------------ helpers

        /// <summary>A client and a server WebSocket over the two ends of an in-memory pipe.</summary>
        static void Pair(out WsxStreamWebSocket client, out WsxStreamWebSocket server,
            WsxWebSocketCreationOptions clientOptions = null, WsxWebSocketCreationOptions serverOptions = null, DuplexPipe pipe = null)
        {
            pipe = pipe ?? new DuplexPipe();
            clientOptions = clientOptions ?? new WsxWebSocketCreationOptions();
            serverOptions = serverOptions ?? new WsxWebSocketCreationOptions();
            clientOptions.IsServer = false;
            serverOptions.IsServer = true;
            client = WsxWebSocket.CreateFromStream(pipe.A, clientOptions);
            server = WsxWebSocket.CreateFromStream(pipe.B, serverOptions);
        }

        /// <summary>One whole message through a buffer of <paramref name="bufferSize"/>: its type, bytes and the EndOfMessage of each part.</summary>
        static async Task<Tuple<WebSocketReceiveResult, byte[], List<bool>>> ReceiveWhole(WebSocket ws, int bufferSize = 4096)
        {
            var buffer = new byte[bufferSize];
            var data = new MemoryStream();
            var ends = new List<bool>();
            while (true)
            {
                var r = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None);
                if (r.MessageType == WebSocketMessageType.Close)
                    return Tuple.Create(r, data.ToArray(), ends);
                data.Write(buffer, 0, r.Count);
                ends.Add(r.EndOfMessage);
                if (r.EndOfMessage)
                    return Tuple.Create(r, data.ToArray(), ends);
            }
        }

        /// <summary>Echoes every part as it comes (same type, same EndOfMessage) until the Close result, which it returns.</summary>
        static async Task<WebSocketReceiveResult> EchoLoop(WebSocket ws, int bufferSize = 4096)
        {
            var buffer = new byte[bufferSize];
            while (true)
            {
                var r = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None);
                if (r.MessageType == WebSocketMessageType.Close)
                    return r;
                await ws.SendAsync(new ArraySegment<byte>(buffer, 0, r.Count), r.MessageType, r.EndOfMessage, CancellationToken.None);
            }
        }

        static async Task EchoRoundTrips(WebSocket client)
        {
            foreach (var size in new[] { 0, 1, 125, 126, 65535, 65536, 300000 })
            {
                var binary = Pattern(size, size + 3);
                await client.SendAsync(new ArraySegment<byte>(binary), WebSocketMessageType.Binary, true, CancellationToken.None);
                var reply = await ReceiveWhole(client, 70000);
                Assert.Equal(WebSocketMessageType.Binary, reply.Item1.MessageType, size + "-byte binary echo type");
                Assert.Bytes(binary, reply.Item2, size + "-byte binary echo");
            }
            const string text = "héllo wörld ✓ 🎉 日本語";
            await client.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes(text)), WebSocketMessageType.Text, true, CancellationToken.None);
            var echoed = await ReceiveWhole(client);
            Assert.Equal(WebSocketMessageType.Text, echoed.Item1.MessageType, "text echo type");
            Assert.Equal(text, Encoding.UTF8.GetString(echoed.Item2), "text echo");
        }

        /// <summary>Sends "ab", "cd", "ef" as one text message in three frames; the reply must be "abcdef".</summary>
        static async Task SendThreePieces(WebSocket ws)
        {
            await ws.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes("ab")), WebSocketMessageType.Text, false, CancellationToken.None);
            await ws.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes("cd")), WebSocketMessageType.Text, false, CancellationToken.None);
            await ws.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes("ef")), WebSocketMessageType.Text, true, CancellationToken.None);
        }

        static async Task<T> Within<T>(Task<T> task, int seconds, string what)
        {
            if (await Task.WhenAny(task, Task.Delay(seconds * 1000)) != task)
                throw new Exception(what + ": not done within " + seconds + " s");
            return await task;
        }

        static async Task Within(Task task, int seconds, string what)
        {
            if (await Task.WhenAny(task, Task.Delay(seconds * 1000)) != task)
                throw new Exception(what + ": not done within " + seconds + " s");
            await task;
        }

        // ------------------------------------------------------------------ over a pipe

        static async Task PipeEcho()
        {
            WsxStreamWebSocket client, server;
            Pair(out client, out server);
            using (client)
            using (server)
            {
                Assert.Equal(WebSocketState.Open, client.State, "client open at once");
                Assert.Equal(WebSocketState.Open, server.State, "server open at once");
                var echo = EchoLoop(server);
                await EchoRoundTrips(client);
                await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
                var end = await Within(echo, 10, "the server's echo loop");
                Assert.Equal(WebSocketCloseStatus.NormalClosure, end.CloseStatus, "the server received 1000");
                Assert.Equal(WebSocketState.Closed, client.State, "client closed");
            }
        }

        static async Task PipeLargeMessage()
        {
            WsxStreamWebSocket client, server;
            Pair(out client, out server);
            using (client)
            using (server)
            {
                var data = Pattern(100000, 5);
                var send = client.SendAsync(new ArraySegment<byte>(data), WebSocketMessageType.Binary, true, CancellationToken.None);
                var got = await ReceiveWhole(server, 1000);
                await send;
                Assert.Bytes(data, got.Item2, "the message through a 1000-byte buffer");
                Assert.True(got.Item3.Count >= 100, "at least 100 parts: " + got.Item3.Count);
                Assert.True(got.Item3.Take(got.Item3.Count - 1).All(e => !e), "EndOfMessage false on every part but the last");
                Assert.True(got.Item3.Last(), "EndOfMessage true on the last part");
                // A zero-length buffer takes nothing and ends nothing.
                await client.SendAsync(new ArraySegment<byte>(new byte[] { 1, 2 }), WebSocketMessageType.Binary, true, CancellationToken.None);
                var none = await server.ReceiveAsync(new ArraySegment<byte>(new byte[0]), CancellationToken.None);
                Assert.Equal(0, none.Count, "nothing into an empty buffer");
                Assert.True(!none.EndOfMessage, "and not the end");
                var rest = await ReceiveWhole(server, 10);
                Assert.Bytes(new byte[] { 1, 2 }, rest.Item2, "the message is still whole");
            }
        }

        static async Task PipeFragments()
        {
            WsxStreamWebSocket client, server;
            Pair(out client, out server);
            using (client)
            using (server)
            {
                await SendThreePieces(client);
                // A big buffer, yet three parts: each piece went out as a frame of its own.
                var got = await ReceiveWhole(server, 4096);
                Assert.Equal("abcdef", Encoding.UTF8.GetString(got.Item2), "the message");
                Assert.Equal(WebSocketMessageType.Text, got.Item1.MessageType, "its type");
                Assert.Equal("False,False,True", string.Join(",", got.Item3), "EndOfMessage of the parts");
                // A binary message in pieces, a text message between messages, a zero-length last piece.
                await client.SendAsync(new ArraySegment<byte>(new byte[] { 1 }), WebSocketMessageType.Binary, false, CancellationToken.None);
                await client.SendAsync(new ArraySegment<byte>(new byte[] { 2 }), WebSocketMessageType.Binary, false, CancellationToken.None);
                await client.SendAsync(new ArraySegment<byte>(new byte[0]), WebSocketMessageType.Binary, true, CancellationToken.None);
                got = await ReceiveWhole(server);
                Assert.Equal(WebSocketMessageType.Binary, got.Item1.MessageType, "binary pieces");
                Assert.Bytes(new byte[] { 1, 2 }, got.Item2, "binary pieces' bytes");
                // Server to client too (unmasked frames).
                await SendThreePieces(server);
                got = await ReceiveWhole(client, 4096);
                Assert.Equal("abcdef", Encoding.UTF8.GetString(got.Item2), "server's pieces");
                Assert.Equal("False,False,True", string.Join(",", got.Item3), "EndOfMessage of the server's parts");
            }
        }

        static async Task PipeCloseBothWays()
        {
            // The client starts the close.
            WsxStreamWebSocket client, server;
            Pair(out client, out server);
            using (client)
            using (server)
            {
                var serverEnd = server.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None);
                await client.CloseOutputAsync((WebSocketCloseStatus)4000, "bye ✓", CancellationToken.None);
                var r = await Within(serverEnd, 10, "the server's ReceiveAsync");
                Assert.Equal(WebSocketMessageType.Close, r.MessageType, "server got a Close result");
                Assert.Equal((WebSocketCloseStatus)4000, r.CloseStatus, "its status");
                Assert.Equal("bye ✓", r.CloseStatusDescription, "its description");
                Assert.Equal((WebSocketCloseStatus)4000, server.CloseStatus, "server CloseStatus");
                // The engine answered the close: the client's ReceiveAsync gets the echo.
                var c = await Within(client.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None), 10, "the client's ReceiveAsync");
                Assert.Equal(WebSocketMessageType.Close, c.MessageType, "client got the answer");
                Assert.Equal((WebSocketCloseStatus)4000, c.CloseStatus, "the answer echoes the code");
                Assert.Equal(WebSocketState.Closed, client.State, "client Closed");
                Assert.Equal(WebSocketState.Closed, server.State, "server Closed");
                Assert.Equal(true, client.CloseWasClean, "clean");
                await Assert.ThrowsAsync<WebSocketException>(
                    () => client.SendAsync(new ArraySegment<byte>(new byte[1]), WebSocketMessageType.Binary, true, CancellationToken.None), "SendAsync after the close");
                // Closing again does nothing.
                await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                Assert.Equal((WebSocketCloseStatus)4000, client.CloseStatus, "status unchanged by a second close");
            }
            // The server starts it, with CloseAsync (waits for the answer); data not yet read is dropped.
            Pair(out client, out server);
            using (client)
            using (server)
            {
                await client.SendAsync(new ArraySegment<byte>(new byte[] { 9 }), WebSocketMessageType.Binary, true, CancellationToken.None);
                var clientEnd = ReceiveWhole(client);
                await Within(server.CloseAsync((WebSocketCloseStatus)4001, "server bye", CancellationToken.None), 10, "the server's CloseAsync");
                Assert.Equal(WebSocketState.Closed, server.State, "server Closed");
                var r = await Within(clientEnd, 10, "the client's ReceiveAsync");
                Assert.Equal(WebSocketMessageType.Close, r.Item1.MessageType, "client got Close");
                Assert.Equal((WebSocketCloseStatus)4001, r.Item1.CloseStatus, "its status");
                Assert.Equal("server bye", r.Item1.CloseStatusDescription, "its description");
                Assert.Equal((WebSocketCloseStatus)4001, client.CloseStatus, "client CloseStatus");
                Assert.Equal("server bye", client.CloseStatusDescription, "client CloseStatusDescription");
            }
            // A close frame without a status (Empty): 1005 on both sides.
            Pair(out client, out server);
            using (client)
            using (server)
            {
                var echo = EchoLoop(server);
                await Within(client.CloseAsync(WebSocketCloseStatus.Empty, "", CancellationToken.None), 10, "CloseAsync(Empty)");
                var r = await Within(echo, 10, "the server's loop");
                Assert.Equal(WebSocketCloseStatus.Empty, r.CloseStatus, "no status");
                Assert.Equal(WebSocketCloseStatus.Empty, client.CloseStatus, "no status echoed");
            }
        }

        static async Task PipeAbort()
        {
            WsxStreamWebSocket client, server;
            Pair(out client, out server);
            using (client)
            using (server)
            {
                var pending = client.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None);
                var serverPending = server.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None);
                await Task.Delay(50);
                Assert.True(!pending.IsCompleted, "ReceiveAsync waits");
                client.Abort();
                client.Abort();
                var e = await Assert.ThrowsAsync<WebSocketException>(() => Within(pending, 10, "the pending ReceiveAsync"), "the pending ReceiveAsync");
                Assert.Equal(WebSocketError.InvalidState, e.WebSocketErrorCode, "aborted: an invalid state");
                Assert.Equal(WebSocketState.Aborted, client.State, "Aborted");
                Assert.Equal((WebSocketCloseStatus)1006, client.CloseStatus, "1006 after Abort, as WsxClient reports it");
                Assert.Equal(false, client.CloseWasClean, "an abort is not clean");
                await Assert.ThrowsAsync<WebSocketException>(
                    () => client.SendAsync(new ArraySegment<byte>(new byte[1]), WebSocketMessageType.Binary, true, CancellationToken.None), "SendAsync after Abort");
                await Assert.ThrowsAsync<WebSocketException>(() => Within(serverPending, 10, "the server's ReceiveAsync"), "the server's ReceiveAsync at the end of the stream");
                Assert.Equal(WebSocketState.Aborted, server.State, "the server side is over, not cleanly");
                Assert.Equal((WebSocketCloseStatus)1006, server.CloseStatus, "1006");
                Assert.Equal(false, server.CloseWasClean, "not clean");
            }
        }

        static async Task PipeDisposeDuringReceive()
        {
            for (int i = 0; i < 20; i++)
            {
                WsxStreamWebSocket client, server;
                Pair(out client, out server);
                var pending = client.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None);
                var serverPending = server.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None);
                if (i % 2 == 0)
                    await Task.Delay(5);
                client.Dispose();
                var outcome = await Within(pending.ContinueWith(t => t.Exception == null ? "completed" : t.Exception.InnerException.GetType().Name), 10, "the pending ReceiveAsync");
                Assert.Equal("WebSocketException", outcome, "a ReceiveAsync pending across Dispose fails with");
                Assert.Equal(WebSocketState.Aborted, client.State, "state after Dispose");
                await Assert.ThrowsAsync<ObjectDisposedException>(() => client.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None), "ReceiveAsync after Dispose");
                await Assert.ThrowsAsync<ObjectDisposedException>(
                    () => client.SendAsync(new ArraySegment<byte>(new byte[1]), WebSocketMessageType.Binary, true, CancellationToken.None), "SendAsync after Dispose");
                client.Dispose();
                var seen = await Within(serverPending.ContinueWith(t => t.IsFaulted ? "failed" : t.Result.MessageType.ToString()), 10, "the server's ReceiveAsync");
                Assert.Equal("failed", seen, "the server side saw the stream end");
                server.Dispose();
            }
        }

        static async Task PipeConcurrency()
        {
            WsxStreamWebSocket client, server;
            Pair(out client, out server);
            using (client)
            using (server)
            {
                var answer = new byte[64];
                var pending = client.ReceiveAsync(new ArraySegment<byte>(answer), CancellationToken.None);
                await Assert.ThrowsAsync<InvalidOperationException>(
                    () => client.ReceiveAsync(new ArraySegment<byte>(new byte[64]), CancellationToken.None), "a second concurrent ReceiveAsync");
                // A send while the receive waits; the server answers.
                await client.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes("ping?")), WebSocketMessageType.Text, true, CancellationToken.None);
                var got = await ReceiveWhole(server);
                Assert.Equal("ping?", Encoding.UTF8.GetString(got.Item2), "server got it");
                await server.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes("pong!")), WebSocketMessageType.Text, true, CancellationToken.None);
                var r = await Within(pending, 10, "the waiting ReceiveAsync");
                Assert.Equal("pong!", Encoding.UTF8.GetString(answer, 0, r.Count), "the answer");
                // A cancelled ReceiveAsync leaves the next message in place.
                using (var cts = new CancellationTokenSource(50))
                    await Assert.ThrowsAsync<OperationCanceledException>(
                        () => client.ReceiveAsync(new ArraySegment<byte>(new byte[64]), cts.Token), "a cancelled ReceiveAsync");
                await server.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes("next")), WebSocketMessageType.Text, true, CancellationToken.None);
                got = await ReceiveWhole(client);
                Assert.Equal("next", Encoding.UTF8.GetString(got.Item2), "the message after a cancelled receive");
                // Many sends from several threads at once, while the server echoes: all arrive, each whole.
                var echo = EchoLoop(server);
                var reader = Task.Run(async () =>
                {
                    var seen = new HashSet<string>();
                    for (int i = 0; i < 400; i++)
                        seen.Add(Encoding.UTF8.GetString((await ReceiveWhole(client)).Item2));
                    return seen;
                });
                await Task.WhenAll(Enumerable.Range(0, 4).Select(t => Task.Run(async () =>
                {
                    for (int i = 0; i < 100; i++)
                        await client.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes(t + ":" + i)), WebSocketMessageType.Text, true, CancellationToken.None);
                })));
                var all = await Within(reader, 30, "400 echoes");
                Assert.Equal(400, all.Count, "distinct echoes");
                await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                await Within(echo, 10, "the echo loop");
            }
        }

        static async Task PipeReadAhead()
        {
            var pipe = new DuplexPipe();
            WsxStreamWebSocket client, server;
            Pair(out client, out server, null, null, pipe);
            using (client)
            using (server)
            {
                for (int i = 0; i < 8; i++)
                    await client.SendAsync(new ArraySegment<byte>(Pattern(1 << 20, i)), WebSocketMessageType.Binary, true, CancellationToken.None);
                await Task.Delay(300);
                Assert.True(pipe.UnreadByB > 4 << 20, "the server's pump stopped reading: " + pipe.UnreadByB + " bytes left in the pipe");
                for (int i = 0; i < 8; i++)
                {
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    var got = await Within(ReceiveWhole(server, 65536), 10, "message " + i);
                    Assert.Bytes(Pattern(1 << 20, i), got.Item2, "message " + i + " after the pause");
                }
                Assert.Equal(0L, pipe.UnreadByB, "everything read");
                for (int i = 0; i < 2000; i++)
                {
                    await client.SendAsync(new ArraySegment<byte>(BitConverter.GetBytes(i)), WebSocketMessageType.Binary, true, CancellationToken.None);
                    Assert.Equal(i, BitConverter.ToInt32((await ReceiveWhole(server)).Item2, 0), "message " + i);
                    if (i % 500 == 0)
                        GC.Collect();
                }
            }
        }

        static async Task PipeDeflate()
        {
            var pipe = new DuplexPipe();
            WsxStreamWebSocket client, server;
            var deflate = new WsxWebSocketDeflateOptions { ClientContextTakeover = false, ServerMaxWindowBits = 12 };
            Pair(out client, out server,
                new WsxWebSocketCreationOptions { DangerousDeflateOptions = deflate },
                new WsxWebSocketCreationOptions { DangerousDeflateOptions = deflate }, pipe);
            using (client)
            using (server)
            {
                var echo = EchoLoop(server, 1 << 20);
                var text = string.Concat(Enumerable.Repeat("compress me, compress me again ", 4000));
                long before = pipe.BytesMoved;
                await client.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes(text)), WebSocketMessageType.Text, true, CancellationToken.None);
                var got = await ReceiveWhole(client);
                Assert.Equal(text, Encoding.UTF8.GetString(got.Item2), "the echo, decompressed");
                var moved = pipe.BytesMoved - before;
                Assert.True(moved < text.Length / 10, "compressed both ways: " + moved + " bytes moved for 2 x " + text.Length);
                await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                await Within(echo, 10, "the echo loop");
            }
            // Parameters the library refuses (a 16-bit window) fail CreateFromStream.
            var bad = Assert.Throws<WsxException>(() => WsxWebSocket.CreateFromStream(new DuplexPipe().A,
                new WsxWebSocketCreationOptions { DangerousDeflateOptions = new WsxWebSocketDeflateOptions { ClientMaxWindowBits = 16 } }), "a 16-bit window");
            Assert.Equal(WsxResult.InvalidArgument, bad.Result, "refused as an invalid argument");
        }

        static async Task PipeKeepAlive()
        {
            // Pings every 50 ms, 300 ms to answer: the server's pump answers without any ReceiveAsync.
            WsxStreamWebSocket client, server;
            Pair(out client, out server, new WsxWebSocketCreationOptions
            {
                KeepAliveInterval = TimeSpan.FromMilliseconds(50),
                KeepAliveTimeout = TimeSpan.FromMilliseconds(300),
            }, new WsxWebSocketCreationOptions { KeepAliveInterval = TimeSpan.Zero });
            using (client)
            using (server)
            {
                await Task.Delay(700);
                Assert.Equal(WebSocketState.Open, client.State, "still open after 700 ms of pings");
                Assert.Equal(WebSocketState.Open, server.State, "server still open");
            }
            // A peer that never answers: the keepalive timeout drops the connection (1006).
            var pipe = new DuplexPipe();
            using (var lonely = WsxWebSocket.CreateFromStream(pipe.A, new WsxWebSocketCreationOptions
            {
                KeepAliveInterval = TimeSpan.FromMilliseconds(50),
                KeepAliveTimeout = TimeSpan.FromMilliseconds(150),
            }))
            {
                var pending = lonely.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None);
                var e = await Assert.ThrowsAsync<WsxException>(() => Within(pending, 10, "the keepalive timeout"), "ReceiveAsync after the keepalive timeout");
                Assert.Equal(WsxResult.Timeout, e.Result, "a timeout");
                Assert.Equal(WebSocketState.Aborted, lonely.State, "dropped");
                Assert.Equal((WebSocketCloseStatus)1006, lonely.CloseStatus, "1006");
                Assert.True(pipe.B.Read(new byte[64], 0, 64) > 0, "pings went out");
            }
            pipe.B.Dispose();
            // The .NET signature with keepalive off.
            var quiet = new DuplexPipe();
            using (var ws = WsxWebSocket.CreateFromStream(quiet.A, false, "chat.v1", Timeout.InfiniteTimeSpan))
            {
                await Task.Delay(100);
                Assert.Equal(WebSocketState.Open, ws.State, "open");
                Assert.Equal("chat.v1", ws.SubProtocol, "the subprotocol given");
                Assert.Equal(0L, quiet.BytesMoved, "nothing sent without keepalive");
            }
        }

        static async Task PipeBadArguments()
        {
            Assert.Throws<ArgumentNullException>(() => WsxWebSocket.CreateFromStream(null, false, null, TimeSpan.Zero), "no stream");
            Assert.Throws<ArgumentException>(() => WsxWebSocket.CreateFromStream(new MemoryStream(new byte[1], false), false, null, TimeSpan.Zero), "a read-only stream");
            WsxStreamWebSocket client, server;
            Pair(out client, out server);
            using (client)
            using (server)
            {
                await Assert.ThrowsAsync<ArgumentException>(
                    () => client.SendAsync(new ArraySegment<byte>(new byte[1]), WebSocketMessageType.Close, true, CancellationToken.None), "sending a Close message type");
                var bad = await Assert.ThrowsAsync<WsxException>(
                    () => client.CloseAsync((WebSocketCloseStatus)1006, "", CancellationToken.None), "closing with 1006");
                Assert.Equal(WsxResult.InvalidArgument, bad.Result, "1006 is never sent");
                bad = await Assert.ThrowsAsync<WsxException>(
                    () => client.SendAsync(new ArraySegment<byte>(new byte[] { 0xff }), WebSocketMessageType.Text, true, CancellationToken.None), "invalid UTF-8 text");
                Assert.Equal(WebSocketState.Open, client.State, "still open");
                await client.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes("fine")), WebSocketMessageType.Text, true, CancellationToken.None);
                Assert.Equal("fine", Encoding.UTF8.GetString((await ReceiveWhole(server)).Item2), "still works");
            }
        }

        static async Task PipeProtocolError()
        {
            var pipe = new DuplexPipe();
            using (var server = WsxWebSocket.CreateFromStream(pipe.B, new WsxWebSocketCreationOptions
            {
                IsServer = true,
                CloseTimeout = TimeSpan.FromMilliseconds(300),
            }))
            {
                var pending = server.ReceiveAsync(new ArraySegment<byte>(new byte[16]), CancellationToken.None);
                // An unmasked text frame "hi" from a client: RFC 6455 5.1 says fail with 1002.
                pipe.A.Write(new byte[] { 0x81, 0x02, (byte)'h', (byte)'i' }, 0, 4);
                var e = await Assert.ThrowsAsync<WsxException>(() => Within(pending, 10, "the failing ReceiveAsync"), "ReceiveAsync after a protocol error");
                Assert.Equal(WsxResult.Protocol, e.Result, "a protocol error");
                var head = await ReadExactly(pipe.A, 2);
                Assert.Equal((byte)0x88, head[0], "a close frame went out");
                var payload = await ReadExactly(pipe.A, head[1]);
                Assert.True(payload.Length >= 2 && payload[0] == 0x03 && payload[1] == 0xEA, "with 1002");
                Assert.Equal((WebSocketCloseStatus)1002, server.CloseStatus, "CloseStatus 1002");
            }
        }

        static async Task PipeCloseTimeout()
        {
            var pipe = new DuplexPipe();
            using (var ws = WsxWebSocket.CreateFromStream(pipe.A, new WsxWebSocketCreationOptions { CloseTimeout = TimeSpan.FromMilliseconds(200) }))
            {
                await Within(ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "anyone?", CancellationToken.None), 10, "CloseAsync without an answer");
                Assert.Equal(WebSocketState.Aborted, ws.State, "no clean close");
                Assert.Equal((WebSocketCloseStatus)1006, ws.CloseStatus, "1006");
                var head = await ReadExactly(pipe.B, 2);
                Assert.Equal((byte)0x88, head[0], "our close frame went out");
            }
            pipe = new DuplexPipe();
            using (var ws = WsxWebSocket.CreateFromStream(pipe.A, new WsxWebSocketCreationOptions()))
            {
                var closing = ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                await Task.Delay(50);
                Assert.True(!closing.IsCompleted, "CloseAsync waits for the answer");
                Assert.Equal(WebSocketState.CloseSent, ws.State, "CloseSent");
                ws.Abort();
                await Assert.ThrowsAsync<WebSocketException>(() => Within(closing, 10, "the aborted CloseAsync"), "CloseAsync across Abort");
                Assert.Equal(WebSocketState.Aborted, ws.State, "Aborted");
            }
        }

        static async Task<byte[]> ReadExactly(Stream stream, int count)
        {
            var bytes = new byte[count];
            int got = 0;
            while (got < count)
            {
                int n = await Within(stream.ReadAsync(bytes, got, count - got), 10, "reading " + count + " bytes");
                Assert.True(n > 0, count + " bytes before the end of the stream");
                got += n;
            }
            return bytes;
        }

        // ------------------------------------------------------------------ over TCP

        const string WebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

        static string AcceptKey(string key)
        {
            using (var sha1 = SHA1.Create())
                return Convert.ToBase64String(sha1.ComputeHash(Encoding.ASCII.GetBytes(key + WebSocketGuid)));
        }

        /// <summary>Reads an HTTP head byte by byte (nothing past its blank line).</summary>
        static string ReadHead(Stream stream)
        {
            var head = new StringBuilder();
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                int b = stream.ReadByte();
                if (b < 0)
                    throw new Exception("the stream ended in the HTTP head: " + head);
                head.Append((char)b);
            }
            return head.ToString();
        }

        static string Header(string head, string name)
        {
            foreach (var line in head.Split(new[] { "\r\n" }, StringSplitOptions.None))
            {
                int colon = line.IndexOf(':');
                if (colon > 0 && string.Equals(line.Substring(0, colon).Trim(), name, StringComparison.OrdinalIgnoreCase))
                    return line.Substring(colon + 1).Trim();
            }
            return null;
        }

        /// <summary>The client's opening handshake done by hand; returns the response head.</summary>
        static string UpgradeByHand(Stream stream, int port, string extraHeaders = "")
        {
            var key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
            var request = "GET / HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: 13\r\n" + extraHeaders + "\r\n";
            var bytes = Encoding.ASCII.GetBytes(request);
            stream.Write(bytes, 0, bytes.Length);
            var head = ReadHead(stream);
            Assert.True(head.StartsWith("HTTP/1.1 101", StringComparison.Ordinal), "101 Switching Protocols: " + head);
            Assert.Equal(AcceptKey(key), Header(head, "Sec-WebSocket-Accept"), "the accept key");
            return head;
        }

        static async Task NetworkStreamClient(Peer peer)
        {
            using (var tcp = new TcpClient())
            {
                await tcp.ConnectAsync(IPAddress.Loopback, peer.Port);
                tcp.NoDelay = true;
                var stream = tcp.GetStream();
                UpgradeByHand(stream, peer.Port);
                using (var ws = WsxWebSocket.CreateFromStream(stream, false, null, TimeSpan.FromSeconds(30)))
                {
                    Assert.Equal(WebSocketState.Open, ws.State, "open");
                    await EchoRoundTrips(ws);
                    // A big message through a small buffer.
                    var big = Pattern(1 << 20, 11);
                    await ws.SendAsync(new ArraySegment<byte>(big), WebSocketMessageType.Binary, true, CancellationToken.None);
                    var got = await ReceiveWhole(ws, 1000);
                    Assert.Bytes(big, got.Item2, "1 MiB echo through a 1000-byte buffer");
                    Assert.True(!got.Item3[0] && got.Item3.Last(), "EndOfMessage false, then true");
                    // Fragments out: the peer assembles them and echoes the message.
                    await SendThreePieces(ws);
                    got = await ReceiveWhole(ws, 4096);
                    Assert.Equal("abcdef", Encoding.UTF8.GetString(got.Item2), "the fragmented message's echo");
                    await Within(ws.CloseAsync((WebSocketCloseStatus)4000, "bye", CancellationToken.None), 10, "CloseAsync");
                    Assert.Equal(WebSocketState.Closed, ws.State, "Closed");
                    Assert.Equal((WebSocketCloseStatus)4000, ws.CloseStatus, "the peer echoed 4000");
                }
            }
            // The peer closes (websockets: "close CODE REASON").
            if (peer.Name != "websockets")
                return;
            using (var tcp = new TcpClient())
            {
                await tcp.ConnectAsync(IPAddress.Loopback, peer.Port);
                var stream = tcp.GetStream();
                UpgradeByHand(stream, peer.Port);
                using (var ws = WsxWebSocket.CreateFromStream(stream, false, null, TimeSpan.FromSeconds(30)))
                {
                    await ws.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes("close 4001 going away ✓")), WebSocketMessageType.Text, true, CancellationToken.None);
                    var end = await Within(ReceiveWhole(ws), 10, "the Close result");
                    Assert.Equal(WebSocketMessageType.Close, end.Item1.MessageType, "Close");
                    Assert.Equal((WebSocketCloseStatus)4001, end.Item1.CloseStatus, "4001");
                    Assert.Equal("going away ✓", end.Item1.CloseStatusDescription, "its reason");
                    Assert.Equal(WebSocketState.Closed, ws.State, "Closed");
                }
            }
        }

        static async Task NetworkStreamDeflate(Peer pythonDeflate)
        {
            using (var tcp = new TcpClient())
            {
                await tcp.ConnectAsync(IPAddress.Loopback, pythonDeflate.Port);
                var stream = tcp.GetStream();
                var head = UpgradeByHand(stream, pythonDeflate.Port,
                    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; client_no_context_takeover\r\n");
                var extension = Header(head, "Sec-WebSocket-Extensions") ?? "";
                Assert.True(extension.StartsWith("permessage-deflate", StringComparison.Ordinal), "deflate agreed: " + extension);
                // The response's parameters, mapped as .NET's WebSocketDeflateOptions.
                var deflate = new WsxWebSocketDeflateOptions();
                foreach (var part in extension.Split(';').Skip(1).Select(p => p.Trim()))
                {
                    var kv = part.Split('=');
                    switch (kv[0])
                    {
                        case "client_no_context_takeover": deflate.ClientContextTakeover = false; break;
                        case "server_no_context_takeover": deflate.ServerContextTakeover = false; break;
                        case "client_max_window_bits": if (kv.Length > 1) deflate.ClientMaxWindowBits = int.Parse(kv[1]); break;
                        case "server_max_window_bits": if (kv.Length > 1) deflate.ServerMaxWindowBits = int.Parse(kv[1]); break;
                    }
                }
                using (var ws = WsxWebSocket.CreateFromStream(stream, new WsxWebSocketCreationOptions { DangerousDeflateOptions = deflate }))
                {
                    var text = string.Concat(Enumerable.Repeat("squeeze ", 20000));
                    for (int i = 0; i < 3; i++)
                    {
                        await ws.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes(text)), WebSocketMessageType.Text, true, CancellationToken.None);
                        var got = await ReceiveWhole(ws);
                        Assert.Equal(text, Encoding.UTF8.GetString(got.Item2), "compressed echo " + i);
                    }
                    await Within(ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None), 10, "CloseAsync");
                    Assert.Equal(WebSocketState.Closed, ws.State, "Closed");
                }
            }
        }

        static async Task SslStreamClient()
        {
            using (var certificates = new TestCertificates())
            using (var server = new WsxServer(new WsxServerOptions { CertificateFile = certificates.CertificateFile, KeyFile = certificates.KeyFile }))
            {
                server.MessageReceived += (s, e) => e.Connection.SendAsync("over TLS: " + e.Message.Text, CancellationToken.None);
                server.Start();
                using (var tcp = new TcpClient())
                {
                    await tcp.ConnectAsync(IPAddress.Loopback, server.Port);
                    // The test CA is not in the system's store: accept the chain error, check the name.
                    var ssl = new System.Net.Security.SslStream(tcp.GetStream(), false,
                        (sender, certificate, chain, errors) =>
                            (errors & ~System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors) == System.Net.Security.SslPolicyErrors.None
                            && certificate.Subject.Contains("CN=localhost"));
                    await ssl.AuthenticateAsClientAsync("localhost");
                    UpgradeByHand(ssl, server.Port);
                    using (var ws = WsxWebSocket.CreateFromStream(ssl, false, null, TimeSpan.FromSeconds(30)))
                    {
                        foreach (var text in new[] { "hi", new string('x', 100000) })
                        {
                            await ws.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes(text)), WebSocketMessageType.Text, true, CancellationToken.None);
                            var got = await Within(ReceiveWhole(ws, 1000), 10, "the echo over TLS");
                            Assert.Equal("over TLS: " + text, Encoding.UTF8.GetString(got.Item2), "echo over an SslStream");
                        }
                        await Within(ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "tls bye", CancellationToken.None), 10, "CloseAsync over TLS");
                        Assert.Equal(WebSocketState.Closed, ws.State, "Closed");
                    }
                }
            }
        }

        /// <summary>Accepts one TCP connection, answers its handshake by hand and wraps it as a server WebSocket.</summary>
        static async Task<WebSocket> AcceptByHand(TcpListener listener)
        {
            var tcp = await listener.AcceptTcpClientAsync();
            var stream = tcp.GetStream();
            var head = ReadHead(stream);
            var key = Header(head, "Sec-WebSocket-Key");
            var response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + AcceptKey(key) + "\r\n\r\n";
            var bytes = Encoding.ASCII.GetBytes(response);
            stream.Write(bytes, 0, bytes.Length);
            return WsxWebSocket.CreateFromStream(stream, true, null, TimeSpan.FromSeconds(30));
        }

        static async Task NetworkStreamServer()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            try
            {
                var url = new Uri("ws://127.0.0.1:" + ((IPEndPoint)listener.LocalEndpoint).Port + "/");
                // The client closes; the server's echo loop sees its code.
                var accepted = AcceptByHand(listener);
                using (var client = await Connect(url, new WsxClientOptions { Compression = null }))
                using (var server = await accepted)
                {
                    var echo = EchoLoop(server, 1000);
                    await EchoRoundTrips(client);
                    await client.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes("ab")), WebSocketMessageType.Text, false, CancellationToken.None);
                    await client.SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes("cd")), WebSocketMessageType.Text, true, CancellationToken.None);
                    var got = await ReceiveWhole(client);
                    Assert.Equal("abcd", Encoding.UTF8.GetString(got.Item2), "fragments through the stream server");
                    await client.CloseAsync((WebSocketCloseStatus)4000, "client bye", CancellationToken.None);
                    var end = await Within(echo, 10, "the server's loop");
                    Assert.Equal((WebSocketCloseStatus)4000, end.CloseStatus, "the server got 4000");
                    Assert.Equal("client bye", end.CloseStatusDescription, "and its reason");
                    Assert.Equal(WebSocketState.Closed, client.State, "client Closed");
                    Assert.Equal(WebSocketState.Closed, server.State, "server Closed");
                }
                // The server closes; the WsxClient's ReceiveAsync sees its code.
                accepted = AcceptByHand(listener);
                using (var client = await Connect(url, new WsxClientOptions { Compression = null }))
                using (var server = await accepted)
                {
                    var clientEnd = client.ReceiveAsync(new ArraySegment<byte>(new byte[64]), CancellationToken.None);
                    await Within(server.CloseAsync((WebSocketCloseStatus)4002, "server bye", CancellationToken.None), 10, "the server's CloseAsync");
                    var r = await Within(clientEnd, 10, "the client's ReceiveAsync");
                    Assert.Equal(WebSocketMessageType.Close, r.MessageType, "Close");
                    Assert.Equal((WebSocketCloseStatus)4002, r.CloseStatus, "4002");
                    Assert.Equal("server bye", r.CloseStatusDescription, "its reason");
                    Assert.Equal(WebSocketState.Closed, server.State, "server Closed");
                }
                // The server side is disposed during a pending ReceiveAsync: no hang; the client sees the end.
                accepted = AcceptByHand(listener);
                using (var client = await Connect(url, new WsxClientOptions { Compression = null }))
                {
                    var server = await accepted;
                    var pending = server.ReceiveAsync(new ArraySegment<byte>(new byte[64]), CancellationToken.None);
                    var clientEnd = client.ReceiveAsync(new ArraySegment<byte>(new byte[64]), CancellationToken.None);
                    await Task.Delay(20);
                    server.Dispose();
                    await Assert.ThrowsAsync<WebSocketException>(() => Within(pending, 10, "the disposed server's ReceiveAsync"), "ReceiveAsync across Dispose");
                    var seen = await Within(clientEnd.ContinueWith(t => t.IsFaulted ? "failed" : t.Result.MessageType.ToString()), 10, "the client's ReceiveAsync");
                    Assert.True(seen == "failed" || seen == "Close", "the client saw the end: " + seen);
                    Assert.Equal(WebSocketState.Aborted, client.State, "the client's side dropped");
                }
                // The client drops: the server's ReceiveAsync fails, 1006.
                accepted = AcceptByHand(listener);
                using (var client = await Connect(url, new WsxClientOptions { Compression = null }))
                using (var server = await accepted)
                {
                    var pending = server.ReceiveAsync(new ArraySegment<byte>(new byte[64]), CancellationToken.None);
                    client.Abort();
                    await Assert.ThrowsAsync<WebSocketException>(() => Within(pending, 10, "the server's ReceiveAsync"), "the server's ReceiveAsync after the drop");
                    Assert.Equal(WebSocketState.Aborted, server.State, "Aborted");
                    Assert.Equal((WebSocketCloseStatus)1006, server.CloseStatus, "1006");
                }
            }
            finally
            {
                listener.Stop();
            }
        }
    }

    /// <summary>Two connected in-memory streams (A and B): what one writes, the other reads; disposing one ends both directions.</summary>
    internal sealed class DuplexPipe
    {
        readonly Channel toB = new Channel();
        readonly Channel toA = new Channel();

        internal DuplexPipe()
        {
            A = new End(this, toA, toB);
            B = new End(this, toB, toA);
        }

        internal Stream A { get; }

        internal Stream B { get; }

        long moved;

        /// <summary>Bytes written to B and not read yet.</summary>
        internal long UnreadByB
        {
            get { return toB.Unread; }
        }

        /// <summary>Bytes written either way so far.</summary>
        internal long BytesMoved
        {
            get { return Interlocked.Read(ref moved); }
        }

        /// <summary>One direction: written chunks waiting to be read.</summary>
        sealed class Channel
        {
            readonly object gate = new object();
            readonly Queue<byte[]> chunks = new Queue<byte[]>();
            int offset;
            bool ended;
            TaskCompletionSource<bool> ready = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);

            internal long Unread
            {
                get { lock (gate) return chunks.Sum(c => (long)c.Length) - offset; }
            }

            internal void Write(byte[] buffer, int offset, int count)
            {
                lock (gate)
                {
                    if (ended)
                        throw new IOException("the pipe is closed");
                    var copy = new byte[count];
                    Buffer.BlockCopy(buffer, offset, copy, 0, count);
                    if (count > 0)
                        chunks.Enqueue(copy);
                    ready.TrySetResult(true);
                }
            }

            internal async Task<int> ReadAsync(byte[] buffer, int at, int count, CancellationToken cancellationToken)
            {
                while (true)
                {
                    Task wait;
                    lock (gate)
                    {
                        if (chunks.Count > 0)
                        {
                            var chunk = chunks.Peek();
                            int n = Math.Min(count, chunk.Length - offset);
                            Buffer.BlockCopy(chunk, offset, buffer, at, n);
                            offset += n;
                            if (offset == chunk.Length)
                            {
                                chunks.Dequeue();
                                offset = 0;
                            }
                            return n;
                        }
                        if (ended)
                            return 0;
                        if (ready.Task.IsCompleted)
                            ready = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
                        wait = ready.Task;
                    }
                    using (cancellationToken.Register(() => { lock (gate) ready.TrySetResult(true); }))
                        await wait.ConfigureAwait(false);
                    cancellationToken.ThrowIfCancellationRequested();
                }
            }

            /// <summary>Ends the direction: reads return what is left, then 0; writes fail.</summary>
            internal void End(bool discard)
            {
                lock (gate)
                {
                    ended = true;
                    if (discard)
                        chunks.Clear();
                    ready.TrySetResult(true);
                }
            }
        }

        sealed class End : Stream
        {
            readonly DuplexPipe pipe;
            readonly Channel incoming;
            readonly Channel outgoing;

            internal End(DuplexPipe pipe, Channel incoming, Channel outgoing)
            {
                this.pipe = pipe;
                this.incoming = incoming;
                this.outgoing = outgoing;
            }

            public override bool CanRead { get { return true; } }
            public override bool CanWrite { get { return true; } }
            public override bool CanSeek { get { return false; } }
            public override long Length { get { throw new NotSupportedException(); } }
            public override long Position { get { throw new NotSupportedException(); } set { throw new NotSupportedException(); } }

            public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            {
                return incoming.ReadAsync(buffer, offset, count, cancellationToken);
            }

            public override int Read(byte[] buffer, int offset, int count)
            {
                return incoming.ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();
            }

            public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
            {
                Write(buffer, offset, count);
                return Task.CompletedTask;
            }

            public override void Write(byte[] buffer, int offset, int count)
            {
                outgoing.Write(buffer, offset, count);
                Interlocked.Add(ref pipe.moved, count);
            }

            public override void Flush()
            {
            }

            public override Task FlushAsync(CancellationToken cancellationToken)
            {
                return Task.CompletedTask;
            }

            public override long Seek(long offset, SeekOrigin origin) { throw new NotSupportedException(); }
            public override void SetLength(long value) { throw new NotSupportedException(); }

            protected override void Dispose(bool disposing)
            {
                // The peer reads what was written, then the end; our own pending read ends now.
                outgoing.End(false);
                incoming.End(true);
                base.Dispose(disposing);
            }
        }
    }
}
