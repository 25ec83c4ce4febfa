using System;
using System.Collections.Generic;
using System.Linq;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>permessage-deflate: options, negotiation, and bytes on the wire seen through a <see cref="CountingRelay"/>.</summary>
    internal static partial class Program
    {
        /// <summary>Size of the compressible messages: deflate shrinks them far below a tenth.</summary>
        const int CompressibleSize = 1 << 20;

        static void CompressionTests(Runner runner, Peer deflatePeer, Peer plainPeer)
        {
            runner.Run("compression: WsxServer and WsxClient, compressed both ways and the per-message opt-out", CompressedServerAndClient);
            runner.Run("compression: off on either side sends plain frames", CompressionOffEitherSide);
            runner.Run("compression: negotiation parameters and invalid settings", CompressionParameters);
            runner.Run("websockets: permessage-deflate negotiated, compressed both ways, and the opt-out", () => CompressedWithPython(deflatePeer));
            runner.Run("websockets: a peer without compression declines the offer", () => PythonWithoutCompression(plainPeer));
            runner.Run("compression: a server's shared compressor, two clients interleaved", SharedCompressor);
        }

        /// <summary>Text that deflates well and differs per <paramref name="seed"/>, so a mix-up shows.</summary>
        static string Compressible(int size, int seed)
        {
            var line = "wsx compresses line " + seed + " of a chat log, again and again.\n";
            var text = new StringBuilder(size + line.Length);
            while (text.Length < size)
                text.Append(line);
            return text.ToString(0, size);
        }

        /// <summary>The answered <c>Sec-WebSocket-Extensions</c>, or "" when the response had none.</summary>
        static string Extensions(WsxClient client)
        {
            IEnumerable<string> values;
            return client.HttpResponseHeaders.TryGetValue("sec-websocket-extensions", out values) ? string.Join(", ", values) : "";
        }

        /// <summary>
        /// Sends <paramref name="text"/> with <paramref name="flags"/>, waits for its echo, and
        /// returns the bytes the relay passed up and down for the round trip.
        /// </summary>
        static async Task<KeyValuePair<long, long>> RoundTrip(WsxClient client, CountingRelay relay, string text, WsxSendFlags flags, string expectedEcho)
        {
            long up = relay.Upstream, down = relay.Downstream;
            await client.SendAsync(text, flags, CancellationToken.None);
            var echo = await client.ReceiveAsync(CancellationToken.None);
            Assert.Equal(WebSocketMessageType.Text, echo.MessageType, "echo type");
            Assert.True(echo.Text == expectedEcho, "the echo is the message (" + echo.Data.Length + " bytes)");
            return new KeyValuePair<long, long>(relay.Upstream - up, relay.Downstream - down);
        }

        static void Compressed(long wireBytes, string what)
        {
            Assert.True(wireBytes < CompressibleSize / 10, what + " went compressed: " + wireBytes + " bytes on the wire");
        }

        static void Plain(long wireBytes, string what)
        {
            Assert.True(wireBytes >= CompressibleSize, what + " went uncompressed: " + wireBytes + " bytes on the wire");
        }

        /// <summary>
        /// A server that echoes text, uncompressed when it starts with "raw", and binary reversed.
        /// </summary>
        static WsxServer CompressingEchoServer(WsxDeflateOptions compression)
        {
            var server = new WsxServer(new WsxServerOptions { Compression = compression });
            server.MessageReceived += (s, e) =>
            {
                var m = e.Message;
                var flags = m.MessageType == WebSocketMessageType.Text && m.Text.StartsWith("raw", StringComparison.Ordinal)
                    ? WsxSendFlags.DisableCompression
                    : WsxSendFlags.None;
                e.Connection.SendAsync(new ArraySegment<byte>(m.Data), m.MessageType, flags, CancellationToken.None).Wait();
            };
            server.Start();
            return server;
        }

        static async Task CompressedServerAndClient()
        {
            using (var server = CompressingEchoServer(new WsxDeflateOptions()))
            using (var relay = new CountingRelay(server.Port))
            using (var client = await Connect(relay.Url()))
            {
                Assert.Equal(HttpStatusCode.SwitchingProtocols, client.HttpStatusCode, "response status");
                Assert.True(Extensions(client).StartsWith("permessage-deflate", StringComparison.Ordinal), "negotiated: " + Extensions(client));

                // Several messages, so that context takeover carries from one to the next.
                for (int i = 0; i < 3; i++)
                {
                    var text = Compressible(CompressibleSize, i);
                    var wire = await RoundTrip(client, relay, text, WsxSendFlags.None, text);
                    Compressed(wire.Key, "message " + i + " from the client");
                    Compressed(wire.Value, "its echo from the server");
                }
                var raw = "raw" + Compressible(CompressibleSize, 7);
                var rawWire = await RoundTrip(client, relay, raw, WsxSendFlags.DisableCompression, raw);
                Plain(rawWire.Key, "a message sent with DisableCompression");
                Plain(rawWire.Value, "an echo sent with DisableCompression");
                // The opt-out is per message: the next one is compressed again, both ways.
                var after = Compressible(CompressibleSize, 8);
                var afterWire = await RoundTrip(client, relay, after, WsxSendFlags.None, after);
                Compressed(afterWire.Key, "the message after the opt-out");
                Compressed(afterWire.Value, "its echo");

                // Binary too, and incompressible data comes back intact.
                foreach (var data in new[] { new byte[CompressibleSize], Pattern(CompressibleSize, 3) })
                {
                    await client.SendAsync(new ArraySegment<byte>(data), WebSocketMessageType.Binary, CancellationToken.None);
                    Assert.Bytes(data, (await client.ReceiveAsync(CancellationToken.None)).Data, "binary echo");
                }
                // Unknown flags are refused.
                var e = await Assert.ThrowsAsync<WsxException>(
                    () => client.SendAsync("x", (WsxSendFlags)0x40, CancellationToken.None), "an unknown send flag");
                Assert.Equal(WsxResult.InvalidArgument, e.Result, "result code of an unknown flag");
                await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
            }
        }

        static async Task CompressionOffEitherSide()
        {
            // The server declines by default; the client offers by default.
            using (var server = CompressingEchoServer(null))
            using (var relay = new CountingRelay(server.Port))
            using (var client = await Connect(relay.Url()))
            {
                Assert.Equal("", Extensions(client), "no extension from a server without compression");
                var text = Compressible(CompressibleSize, 1);
                var wire = await RoundTrip(client, relay, text, WsxSendFlags.None, text);
                Plain(wire.Key, "a message to a server without compression");
                Plain(wire.Value, "the echo of a server without compression");
            }
            // A client that offers nothing, against a server that would accept.
            using (var server = CompressingEchoServer(new WsxDeflateOptions()))
            using (var relay = new CountingRelay(server.Port))
            using (var client = await Connect(relay.Url(), new WsxClientOptions { Compression = null }))
            {
                Assert.Equal("", Extensions(client), "no extension for a client that offered none");
                var text = Compressible(CompressibleSize, 2);
                var wire = await RoundTrip(client, relay, text, WsxSendFlags.None, text);
                Plain(wire.Key, "a message from a client without compression");
                Plain(wire.Value, "the echo to a client without compression");
            }
        }

        static async Task CompressionParameters()
        {
            var serverSide = new WsxDeflateOptions { ServerNoContextTakeover = true, ClientMaxWindowBits = 9, Level = 9, Threshold = 0 };
            using (var server = CompressingEchoServer(serverSide))
            {
                var url = new Uri("ws://127.0.0.1:" + server.Port + "/");
                var offer = new WsxDeflateOptions { ClientNoContextTakeover = true, ServerMaxWindowBits = 10, Level = 1 };
                using (var client = await Connect(url, new WsxClientOptions { Compression = offer }))
                {
                    var answer = Extensions(client).Split(';').Select(p => p.Trim()).ToList();
                    foreach (var expected in new[] { "permessage-deflate", "server_no_context_takeover", "client_no_context_takeover",
                                                     "server_max_window_bits=10", "client_max_window_bits=9" })
                        Assert.True(answer.Contains(expected), expected + " in the answer " + Extensions(client));
                    // Without context takeover and with small windows, messages still round-trip.
                    for (int i = 0; i < 3; i++)
                    {
                        var text = Compressible(100000, i) + "é✓";
                        await client.SendAsync(text, CancellationToken.None);
                        Assert.True((await client.ReceiveAsync(CancellationToken.None)).Text == text, "echo " + i + " with the negotiated parameters");
                    }
                    await client.SendAsync("", CancellationToken.None);
                    Assert.Equal("", (await client.ReceiveAsync(CancellationToken.None)).Text, "an empty message");
                }
                using (var client = new WsxClient(new WsxClientOptions { Compression = new WsxDeflateOptions { ClientMaxWindowBits = 7 } }))
                {
                    var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(url, CancellationToken.None), "a 7-bit window");
                    Assert.Equal(WsxResult.InvalidArgument, e.Result, "result code of a 7-bit window");
                    Assert.Equal(WebSocketState.None, client.State, "a bad option leaves the client unconnected");
                }
                using (var client = new WsxClient(new WsxClientOptions { Compression = new WsxDeflateOptions { ServerMaxWindowBits = 300 } }))
                    await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.ConnectAsync(url, CancellationToken.None), "a 300-bit window");
            }
            using (var server = new WsxServer(new WsxServerOptions { Compression = new WsxDeflateOptions { Level = 10 } }))
            {
                var e = Assert.Throws<WsxException>(() => server.Start(), "level 10");
                Assert.Equal(WsxResult.InvalidArgument, e.Result, "result code of level 10");
            }
        }

        /// <summary>
        /// A server with <see cref="WsxDeflateOptions.SharedCompressor"/> asks every client for
        /// server_no_context_takeover; two clients' messages, interleaved, come back intact and
        /// compressed both ways. A client may not set it.
        /// </summary>
        static async Task SharedCompressor()
        {
            using (var server = CompressingEchoServer(new WsxDeflateOptions { SharedCompressor = true }))
            using (var relay = new CountingRelay(server.Port))
            using (var a = await Connect(relay.Url()))
            using (var b = await Connect(relay.Url()))
            {
                foreach (var client in new[] { a, b })
                    Assert.Equal("permessage-deflate; server_no_context_takeover", Extensions(client), "the server's answer");
                for (int i = 0; i < 3; i++)
                {
                    var text = Compressible(CompressibleSize, i);
                    await a.SendAsync(text, CancellationToken.None);
                    await b.SendAsync(text + "b", CancellationToken.None);
                    Assert.True((await a.ReceiveAsync(CancellationToken.None)).Text == text, "echo " + i + " to the first client");
                    Assert.True((await b.ReceiveAsync(CancellationToken.None)).Text == text + "b", "echo " + i + " to the second client");
                }
                Compressed(relay.Upstream, "three messages from each client");
                Compressed(relay.Downstream, "their echoes from the shared compressor");
            }
            using (var client = new WsxClient(new WsxClientOptions { Compression = new WsxDeflateOptions { SharedCompressor = true } }))
            {
                var e = await Assert.ThrowsAsync<WsxException>(
                    () => client.ConnectAsync(new Uri("ws://127.0.0.1:1/"), CancellationToken.None), "a client's shared compressor");
                Assert.Equal(WsxResult.InvalidArgument, e.Result, "result code of a client's shared compressor");
            }
        }

        static async Task CompressedWithPython(Peer peer)
        {
            using (var relay = new CountingRelay(peer.Port))
            using (var client = await Connect(relay.Url("/extensions")))
            {
                var peerSays = (await client.ReceiveAsync(CancellationToken.None)).Text;
                Assert.True(peerSays.StartsWith("permessage-deflate", StringComparison.Ordinal), "the peer negotiated: " + peerSays);
                Assert.Equal(peerSays, Extensions(client), "the client read the same answer");

                var text = Compressible(CompressibleSize, 5);
                var wire = await RoundTrip(client, relay, text, WsxSendFlags.None, text);
                Compressed(wire.Key, "a message to websockets");
                Compressed(wire.Value, "the echo of websockets");
                var raw = Compressible(CompressibleSize, 6);
                wire = await RoundTrip(client, relay, raw, WsxSendFlags.DisableCompression, raw);
                Plain(wire.Key, "a message to websockets with DisableCompression");
                Compressed(wire.Value, "the echo of websockets, which compresses it");
                var binary = new byte[CompressibleSize];
                await client.SendAsync(new ArraySegment<byte>(binary), WebSocketMessageType.Binary, CancellationToken.None);
                Assert.Bytes(binary, (await client.ReceiveAsync(CancellationToken.None)).Data, "binary echo");
                await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                Assert.Equal(WebSocketState.Closed, client.State, "closed cleanly");
            }
        }

        static async Task PythonWithoutCompression(Peer peer)
        {
            using (var client = await Connect(peer.Url("/extensions")))
            {
                Assert.Equal("", (await client.ReceiveAsync(CancellationToken.None)).Text, "the peer negotiated nothing");
                Assert.Equal("", Extensions(client), "no extension in the response");
                var text = Compressible(100000, 9);
                await client.SendAsync(text, CancellationToken.None);
                Assert.True((await client.ReceiveAsync(CancellationToken.None)).Text == text, "echo without compression");
            }
        }
    }
}
