using System;
using System.Collections.Generic;
using System.Threading;

namespace Wsx
{
    /// <summary>
    /// Options of a <see cref="WsxClient"/>, read when <see cref="WsxClient.ConnectAsync"/> starts.
    /// The defaults are the native library's.
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
        public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>Time allowed for the TLS and WebSocket handshakes (default 10 s).</summary>
        public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>Time to wait for the peer's close frame and TCP close (default 5 s).</summary>
        public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

        /// <summary>
        /// Time between keepalive pings (default 30 s); <see cref="TimeSpan.Zero"/> or
        /// <see cref="Timeout.InfiniteTimeSpan"/> turns keepalive off.
        /// </summary>
        public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>Time to wait for the pong of a keepalive ping before dropping the connection (default 30 s).</summary>
        public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>Largest message accepted, in bytes (default 16 MiB); a bigger one closes the connection with 1009.</summary>
        public long MaxMessageSize { get; set; } = 16L << 20;

        /// <summary>A PEM file of extra trusted CA certificates for <c>wss://</c>, or null.</summary>
        public string CaFile { get; set; }

        /// <summary>Whether TLS certificates and host names are verified (default true; turn off for tests only).</summary>
        public bool VerifyCertificate { get; set; } = true;

        /// <summary>
        /// The permessage-deflate (RFC 7692) compression offered to the server, used if it accepts
        /// (see <see cref="WsxClient.HttpResponseHeaders"/>' <c>Sec-WebSocket-Extensions</c>).
        /// Offered with the default settings unless changed; null offers none.
        /// </summary>
        public WsxDeflateOptions Compression { get; set; } = new WsxDeflateOptions();

        /// <summary>
        /// Where the events are raised: null (the default) raises them on the native loop's thread,
        /// where handlers must return quickly; a context (a game's main thread, a UI thread) gets
        /// them posted in order.
        /// </summary>
        public SynchronizationContext SynchronizationContext { get; set; }

        /// <summary>Adds a subprotocol to offer, like <c>ClientWebSocketOptions.AddSubProtocol</c>.</summary>
        public void AddSubProtocol(string subProtocol)
        {
            if (string.IsNullOrEmpty(subProtocol))
                throw new ArgumentException("a subprotocol must not be empty", nameof(subProtocol));
            SubProtocols.Add(subProtocol);
        }

        /// <summary>Sets an extra request header, like <c>ClientWebSocketOptions.SetRequestHeader</c>.</summary>
        public void SetRequestHeader(string name, string value)
        {
            if (string.IsNullOrEmpty(name))
                throw new ArgumentException("a header name must not be empty", nameof(name));
            RequestHeaders[name] = value ?? "";
        }
    }
}
