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
            internal UIntPtr max_message_size, max_frame_size, max_header_bytes, max_headers;
            internal uint connect_timeout_ms, handshake_timeout_ms, close_timeout_ms;
            internal uint keepalive_interval_ms, keepalive_timeout_ms, idle_timeout_ms;
            internal UIntPtr high_water, low_water;
            internal byte nodelay, auto_pong, client_compression, server_compression;
            internal IntPtr server_host;
            internal ushort server_port;
            internal UIntPtr max_connections, max_pending_handshakes;
            internal byte verify_certificates;
        }

        [StructLayout(LayoutKind.Sequential)]
        struct Deflate
        {
            internal byte client_max_window_bits, server_max_window_bits, client_no_context_takeover, server_no_context_takeover;
            internal uint level;
            internal UIntPtr threshold;
        }

        [StructLayout(LayoutKind.Sequential)]
        struct Reconnect
        {
            internal uint initial_delay_ms;
            internal double factor;
            internal uint max_delay_ms, max_attempts, reset_after_ms;
            internal byte retry_on_4xx;
            internal UIntPtr queue_while_disconnected;
            internal byte jitter;
        }

        [DllImport("wsx", CallingConvention = CallingConvention.Cdecl)]
        static extern int wsx_defaults_get(out Defaults out_defaults, UIntPtr size);

        [DllImport("wsx", CallingConvention = CallingConvention.Cdecl)]
        static extern Deflate wsx_deflate_options_default();

        [DllImport("wsx", CallingConvention = CallingConvention.Cdecl)]
        static extern Reconnect wsx_reconnect_options_default();

        static TimeSpan Ms(uint ms)
        {
            return TimeSpan.FromMilliseconds(ms);
        }

        static Task DefaultsAreTheLibrarys()
        {
            Defaults d;
            Assert.Equal(0, wsx_defaults_get(out d, (UIntPtr)Marshal.SizeOf(typeof(Defaults))), "wsx_defaults_get");
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
            var deflate = wsx_deflate_options_default();
            var managed = new WsxDeflateOptions();
            Assert.Equal((int)deflate.client_max_window_bits, managed.ClientMaxWindowBits, "ClientMaxWindowBits");
            Assert.Equal((int)deflate.server_max_window_bits, managed.ServerMaxWindowBits, "ServerMaxWindowBits");
            Assert.Equal(deflate.client_no_context_takeover != 0, managed.ClientNoContextTakeover, "ClientNoContextTakeover");
            Assert.Equal(deflate.server_no_context_takeover != 0, managed.ServerNoContextTakeover, "ServerNoContextTakeover");
            Assert.Equal((int)deflate.level, managed.Level, "Level");
            Assert.Equal((long)(ulong)deflate.threshold, managed.Threshold, "Threshold");
            var reconnect = wsx_reconnect_options_default();
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
