using System;
using System.Collections.Generic;
using System.Threading;

namespace Wsx
{
    /// <summary>
    /// Options of a <see cref="WsxClient"/>, read when <see cref="WsxClient.ConnectAsync"/> starts.
    /// The defaults are the native library's (read from it), and so are the rules: a value it
    /// refuses is a <see cref="WsxException"/> with <see cref="WsxResult.InvalidArgument"/> whose
    /// message names the option.
    /// </summary>
    public sealed class WsxClientOptions
    {
        /// <summary>Subprotocols offered, in order of preference.</summary>
        public IList<string> SubProtocols { get; } = new List<string>();

        /// <summary>Extra request headers (Authorization, Cookie, ...).</summary>
        public IDictionary<string, string> RequestHeaders { get; } =
            new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

        /// <summary>The <c>Origin</c> header, or null to send none.</summary>
        public string Origin { get; set; }

        /// <summary>Time allowed for name resolution and TCP connect (default 10 s).</summary>
        public TimeSpan ConnectTimeout { get; set; } = NativeDefaults.Ms(NativeDefaults.Options.connect_timeout_ms);

        /// <summary>Time allowed for the TLS and WebSocket handshakes (default 10 s).</summary>
        public TimeSpan HandshakeTimeout { get; set; } = NativeDefaults.Ms(NativeDefaults.Options.handshake_timeout_ms);

        /// <summary>Time to wait for the peer's close frame and TCP close (default 5 s).</summary>
        public TimeSpan CloseTimeout { get; set; } = NativeDefaults.Ms(NativeDefaults.Options.close_timeout_ms);

        /// <summary>
        /// Time between keepalive pings (default 30 s); <see cref="TimeSpan.Zero"/> or
        /// <see cref="Timeout.InfiniteTimeSpan"/> turns keepalive off.
        /// </summary>
        public TimeSpan KeepAliveInterval { get; set; } = NativeDefaults.Ms(NativeDefaults.Options.keepalive_interval_ms);

        /// <summary>Time to wait for the pong of a keepalive ping before dropping the connection (default 30 s).</summary>
        public TimeSpan KeepAliveTimeout { get; set; } = NativeDefaults.Ms(NativeDefaults.Options.keepalive_timeout_ms);

        /// <summary>Largest message accepted, in bytes (default 16 MiB); a bigger one closes the connection with 1009.</summary>
        public long MaxMessageSize { get; set; } = (long)(ulong)NativeDefaults.Options.max_message_size;

        /// <summary>A PEM file of extra trusted CA certificates for <c>wss://</c>, or null.</summary>
        public string CaFile { get; set; }

        /// <summary>Whether TLS certificates and host names are verified (default true; turn off for tests only).</summary>
        public bool VerifyCertificate { get; set; } = NativeDefaults.Options.verify_certificates != 0;

        /// <summary>
        /// The permessage-deflate (RFC 7692) compression offered to the server, used if it accepts
        /// (see <see cref="WsxClient.HttpResponseHeaders"/>' <c>Sec-WebSocket-Extensions</c>).
        /// Offered with the default settings unless changed; null offers none.
        /// </summary>
        public WsxDeflateOptions Compression { get; set; } = NativeDefaults.Options.client_compression != 0 ? new WsxDeflateOptions() : null;

        /// <summary>
        /// Reconnecting after the connection drops, or null (the default) to end with it. With a
        /// policy, one <see cref="WsxClient"/> outlives its transports: <see cref="WsxClient.Connecting"/>
        /// marks each attempt, <see cref="WsxClient.Disconnected"/> each drop, <see cref="WsxClient.Connected"/>
        /// each open (with <see cref="WsxConnectedEventArgs.IsReconnect"/>), and <see cref="WsxClient.Closed"/>
        /// comes once, at the very end.
        /// </summary>
        public WsxReconnectPolicy Reconnect { get; set; }

        /// <summary>
        /// The proxy to connect through, or null (the default) for none: <c>http://[user:password@]host[:port]</c>
        /// (HTTP CONNECT with Basic authentication), <c>https://...</c> (the same over TLS to the proxy),
        /// or <c>socks5://...</c> / <c>socks5h://...</c> (SOCKS5, with or without credentials). Its
        /// failures are <see cref="WsxResult.Proxy"/> errors (with <see cref="WsxException.HttpStatus"/>
        /// 407 for credentials, 502 for a target it could not reach).
        /// </summary>
        public Uri Proxy { get; set; }

        /// <summary>
        /// Without <see cref="Proxy"/>, use the one the environment names (<c>https_proxy</c> for
        /// <c>wss://</c>, <c>http_proxy</c> for <c>ws://</c>, then <c>all_proxy</c>, with <c>no_proxy</c>
        /// exempting hosts), read when connecting. Default false.
        /// </summary>
        public bool UseEnvironmentProxy { get; set; }

        /// <summary>
        /// Where the events are raised: null (the default) raises them on the native loop's thread,
        /// where handlers must return quickly; a context (a game's main thread, a UI thread) gets
        /// them posted in order.
        /// </summary>
        public SynchronizationContext SynchronizationContext { get; set; }

        /// <summary>Adds a subprotocol to offer, like <c>ClientWebSocketOptions.AddSubProtocol</c>.</summary>
        public void AddSubProtocol(string subProtocol)
        {
            if (subProtocol == null)
                throw new ArgumentNullException(nameof(subProtocol));
            SubProtocols.Add(subProtocol);
        }

        /// <summary>Sets an extra request header, like <c>ClientWebSocketOptions.SetRequestHeader</c>.</summary>
        public void SetRequestHeader(string name, string value)
        {
            if (name == null)
                throw new ArgumentNullException(nameof(name));
            RequestHeaders[name] = value ?? "";
        }
    }
}
