using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>
    /// Options: the defaults are the native library's (compared with its getters, read here by
    /// P/Invoke of our own), and its rules refuse bad values with the same error kind as in C and
    /// Python (<see cref="WsxResult.InvalidArgument"/>), the message naming the option.
    /// </summary>
    internal static partial class Program
    {
        static void OptionsTests(Runner runner)
        {
            runner.Run("options: the defaults are the library's", DefaultsAreTheLibrarys);
            runner.Run("options: bad values are refused by the library, naming the option", BadOptionsRefused);
            runner.Run("server: a refusal is 400-599 with valid headers, else InvalidArgument", RefusalRules);
        }

        [StructLayout(LayoutKind.Sequential)]
        struct Defaults
        {
            internal UIntPtr struct_size;
            internal UIntPtr max_message_size, max_frame_size, max_header_bytes, max_headers;
            internal uint connect_timeout_ms, handshake_timeout_ms, close_timeout_ms;
            internal uint keepalive_interval_ms, keepalive_timeout_ms, idle_timeout_ms;
            internal UIntPtr high_water, low_water;
            internal byte nodelay, auto_pong, client_compression, server_compression;
            internal IntPtr server_host;
            internal ushort server_port;
            internal UIntPtr max_connections, max_pending_handshakes;
            internal byte verify_certificates;
            internal UIntPtr inbox_high_messages, inbox_low_messages, inbox_high_bytes, inbox_low_bytes;
            internal byte reject_binary, proxy_from_env;
            internal int slow_subscriber;
        }

        [StructLayout(LayoutKind.Sequential)]
        struct Deflate
        {
            internal UIntPtr struct_size;
            internal UIntPtr threshold;
            internal uint level;
            internal byte client_max_window_bits, server_max_window_bits, client_no_context_takeover, server_no_context_takeover;
            internal byte shared_compressor;
        }

        [StructLayout(LayoutKind.Sequential)]
        struct Reconnect
        {
            internal UIntPtr struct_size;
            internal double factor;
            internal UIntPtr queue_while_disconnected;
            internal uint initial_delay_ms, max_delay_ms, max_attempts, reset_after_ms;
            internal byte retry_on_4xx, jitter;
        }

        [StructLayout(LayoutKind.Sequential)]
        struct Inbox
        {
            internal UIntPtr struct_size, high_messages, low_messages, high_bytes, low_bytes;
        }

        [DllImport("wsx", CallingConvention = CallingConvention.Cdecl)]
        static extern int wsx_defaults_get(ref Defaults out_defaults);

        [DllImport("wsx", CallingConvention = CallingConvention.Cdecl)]
        static extern int wsx_deflate_options_default(ref Deflate out_options);

        [DllImport("wsx", CallingConvention = CallingConvention.Cdecl)]
        static extern int wsx_reconnect_options_default(ref Reconnect out_options);

        [DllImport("wsx", CallingConvention = CallingConvention.Cdecl)]
        static extern int wsx_inbox_options_default(ref Inbox out_options);

        static TimeSpan Ms(uint ms)
        {
            return TimeSpan.FromMilliseconds(ms);
        }

        static Task DefaultsAreTheLibrarys()
        {
            var d = new Defaults { struct_size = (UIntPtr)Marshal.SizeOf(typeof(Defaults)) };
            Assert.Equal(0, wsx_defaults_get(ref d), "wsx_defaults_get");
            var client = new WsxClientOptions();
            Assert.Equal(Ms(d.connect_timeout_ms), client.ConnectTimeout, "ConnectTimeout");
            Assert.Equal(Ms(d.handshake_timeout_ms), client.HandshakeTimeout, "HandshakeTimeout");
            Assert.Equal(Ms(d.close_timeout_ms), client.CloseTimeout, "CloseTimeout");
            Assert.Equal(Ms(d.keepalive_interval_ms), client.KeepAliveInterval, "KeepAliveInterval");
            Assert.Equal(Ms(d.keepalive_timeout_ms), client.KeepAliveTimeout, "KeepAliveTimeout");
            Assert.Equal((long)(ulong)d.max_message_size, client.MaxMessageSize, "client MaxMessageSize");
            Assert.Equal(d.client_compression != 0, client.Compression != null, "client Compression");
            Assert.Equal(d.verify_certificates != 0, client.VerifyCertificate, "VerifyCertificate");
            var server = new WsxServerOptions();
            Assert.Equal(Marshal.PtrToStringAnsi(d.server_host), server.Host, "Host");
            Assert.Equal((int)d.server_port, server.Port, "Port");
            Assert.Equal((long)(ulong)d.max_message_size, server.MaxMessageSize, "server MaxMessageSize");
            Assert.Equal(d.server_compression != 0, server.Compression != null, "server Compression");
            Assert.Equal((long)(ulong)d.max_frame_size, server.MaxFrameSize, "MaxFrameSize");
            Assert.Equal((long)(ulong)d.max_header_bytes, client.MaxHeaderBytes, "MaxHeaderBytes");
            Assert.Equal((long)(ulong)d.max_headers, server.MaxHeaders, "MaxHeaders");
            Assert.Equal(Ms(d.idle_timeout_ms), server.IdleTimeout, "IdleTimeout");
            Assert.Equal((long)(ulong)d.high_water, client.SendHighWaterMark, "SendHighWaterMark");
            Assert.Equal((long)(ulong)d.low_water, server.SendLowWaterMark, "SendLowWaterMark");
            Assert.Equal(d.nodelay != 0, server.NoDelay, "NoDelay");
            Assert.Equal(d.auto_pong != 0, client.AutoPong, "AutoPong");
            Assert.Equal((long)(ulong)d.max_connections, server.MaxConnections, "MaxConnections");
            Assert.Equal((long)(ulong)d.max_pending_handshakes, server.MaxPendingHandshakes, "MaxPendingHandshakes");
            Assert.Equal(Ms(d.handshake_timeout_ms), server.HandshakeTimeout, "server HandshakeTimeout");
            Assert.Equal(Ms(d.keepalive_interval_ms), server.KeepAliveInterval, "server KeepAliveInterval");
            var inbox = new Inbox { struct_size = (UIntPtr)Marshal.SizeOf(typeof(Inbox)) };
            Assert.Equal(0, wsx_inbox_options_default(ref inbox), "wsx_inbox_options_default");
            Assert.Equal((long)(ulong)inbox.high_messages, client.ReceiveHighMessages, "ReceiveHighMessages");
            Assert.Equal((long)(ulong)inbox.low_messages, server.ReceiveLowMessages, "ReceiveLowMessages");
            Assert.Equal((long)(ulong)inbox.high_bytes, client.ReceiveHighBytes, "ReceiveHighBytes");
            Assert.Equal((long)(ulong)inbox.low_bytes, server.ReceiveLowBytes, "ReceiveLowBytes");
            Assert.Equal((long)(ulong)d.inbox_high_messages, client.ReceiveHighMessages, "wsx_defaults' inbox mark");
            Assert.Equal(d.reject_binary != 0, server.RejectBinary, "RejectBinary");
            Assert.Equal(d.proxy_from_env != 0, client.UseEnvironmentProxy, "UseEnvironmentProxy");
            Assert.Equal((WsxSlowSubscriberPolicy)d.slow_subscriber, server.SlowSubscriberPolicy, "SlowSubscriberPolicy");
            // websockets' max_queue: the high mark, and a quarter of it as the low one.
            var queued = new WsxClientOptions { MaxQueue = 8 };
            Assert.Equal(8L, queued.ReceiveHighMessages, "MaxQueue's high mark");
            Assert.Equal(2L, queued.ReceiveLowMessages, "MaxQueue's low mark");
            var deflate = new Deflate { struct_size = (UIntPtr)Marshal.SizeOf(typeof(Deflate)) };
            Assert.Equal(0, wsx_deflate_options_default(ref deflate), "wsx_deflate_options_default");
            var managed = new WsxDeflateOptions();
            Assert.Equal((int)deflate.client_max_window_bits, managed.ClientMaxWindowBits, "ClientMaxWindowBits");
            Assert.Equal((int)deflate.server_max_window_bits, managed.ServerMaxWindowBits, "ServerMaxWindowBits");
            Assert.Equal(deflate.client_no_context_takeover != 0, managed.ClientNoContextTakeover, "ClientNoContextTakeover");
            Assert.Equal(deflate.server_no_context_takeover != 0, managed.ServerNoContextTakeover, "ServerNoContextTakeover");
            Assert.Equal((int)deflate.level, managed.Level, "Level");
            Assert.Equal((long)(ulong)deflate.threshold, managed.Threshold, "Threshold");
            Assert.Equal(deflate.shared_compressor != 0, managed.SharedCompressor, "SharedCompressor");
            var reconnect = new Reconnect { struct_size = (UIntPtr)Marshal.SizeOf(typeof(Reconnect)) };
            Assert.Equal(0, wsx_reconnect_options_default(ref reconnect), "wsx_reconnect_options_default");
            var policy = new WsxReconnectPolicy();
            Assert.Equal(Ms(reconnect.initial_delay_ms), policy.InitialDelay, "InitialDelay");
            Assert.Equal(reconnect.factor, policy.Factor, "Factor");
            Assert.Equal(Ms(reconnect.max_delay_ms), policy.MaxDelay, "MaxDelay");
            Assert.Equal((int)reconnect.max_attempts, policy.MaxAttempts, "MaxAttempts");
            Assert.Equal(Ms(reconnect.reset_after_ms), policy.ResetAfter, "ResetAfter");
            Assert.Equal(reconnect.retry_on_4xx != 0, policy.RetryOn4xx, "RetryOn4xx");
            Assert.Equal((long)(ulong)reconnect.queue_while_disconnected, policy.QueueWhileDisconnected, "QueueWhileDisconnected");
            Assert.Equal(reconnect.jitter != 0, policy.Jitter, "Jitter");
            return Task.CompletedTask;
        }

        static async Task BadOptionsRefused()
        {
            var url = new Uri("ws://127.0.0.1:" + Ports.Unused() + "/");
            var cases = new List<KeyValuePair<string, WsxClientOptions>>
            {
                Case("keepalive.timeout must be more than 0 ms", o => o.KeepAliveTimeout = TimeSpan.Zero),
                Case("close_timeout must be more than 0 ms", o => o.CloseTimeout = TimeSpan.Zero),
                Case("protocol.max_message_size must be more than 0", o => o.MaxMessageSize = 0),
                Case("header name \"X Bad\" is not an HTTP token", o => o.SetRequestHeader("X Bad", "1")),
                Case("the value of header \"X-A\" contains CR, LF", o => o.SetRequestHeader("X-A", "1\r\nX-B: 2")),
                Case("subprotocols: \"a b\" is not an HTTP token", o => o.AddSubProtocol("a b")),
                Case("reconnect.factor must be a finite number of at least 1, not NaN",
                     o => o.Reconnect = new WsxReconnectPolicy { Factor = double.NaN }),
                Case("reconnect.factor must be a finite number of at least 1, not 0.5",
                     o => o.Reconnect = new WsxReconnectPolicy { Factor = 0.5 }),
                Case("compression: compression level must be 0 to 9, not 10",
                     o => o.Compression = new WsxDeflateOptions { Level = 10 }),
            };
            foreach (var c in cases)
            {
                using (var client = new WsxClient(c.Value))
                {
                    var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(url, CancellationToken.None), c.Key);
                    Assert.Equal(WsxResult.InvalidArgument, e.Result, "result for " + c.Key);
                    Assert.True(e.Message.Contains(c.Key), "'" + e.Message + "' names the option: " + c.Key);
                }
            }
            using (var server = new WsxServer(new WsxServerOptions { MaxMessageSize = 0 }))
            {
                var e = Assert.Throws<WsxException>(() => server.Start(), "a server with MaxMessageSize 0");
                Assert.Equal(WsxResult.InvalidArgument, e.Result, "server result");
                Assert.True(e.Message.Contains("protocol.max_message_size must be more than 0"), e.Message);
            }
        }

        static KeyValuePair<string, WsxClientOptions> Case(string message, Action<WsxClientOptions> change)
        {
            var options = new WsxClientOptions();
            change(options);
            return new KeyValuePair<string, WsxClientOptions>(message, options);
        }

        /// <summary>The same values C and Python refuse, refused by the library at the call.</summary>
        static async Task RefusalRules()
        {
            using (var server = new WsxServer(new WsxServerOptions()))
            {
                var refused = new BlockingCollection<WsxException>();
                server.Upgrading += (s, e) =>
                {
                    foreach (var attempt in new Action[]
                    {
                        () => e.Refuse(200, "no"),
                        () => e.Refuse(600, "no"),
                        () => e.AddResponseHeader("X Bad", "1"),
                        () => e.AddResponseHeader("X-A", "1\r\nX-B: 2"),
                    })
                    {
                        try
                        {
                            attempt();
                        }
                        catch (System.Net.WebSockets.WebSocketException x)
                        {
                            refused.Add(WsxException.Of(x));
                        }
                    }
                    e.Refuse(403, "no");
                };
                server.Start();
                using (var client = new WsxClient())
                {
                    var url = new Uri("ws://127.0.0.1:" + server.Port + "/");
                    var e = await Assert.ThrowsAsync<WsxException>(() => client.ConnectAsync(url, CancellationToken.None), "the refusal");
                    Assert.Equal(403, e.HttpStatus, "the valid refusal went out");
                }
                var expected = new[]
                {
                    "refusal status 200 is not in 400-599",
                    "refusal status 600 is not in 400-599",
                    "header name \"X Bad\" is not an HTTP token",
                    "the value of header \"X-A\" contains CR, LF",
                };
                foreach (var words in expected)
                {
                    var x = Take(refused, words);
                    Assert.Equal(WsxResult.InvalidArgument, x.Result, "result for " + words);
                    Assert.True(x.Message.Contains(words), "'" + x.Message + "' says " + words);
                }
            }
        }
    }
}
