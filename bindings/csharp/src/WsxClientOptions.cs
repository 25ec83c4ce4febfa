using System;
using System.Collections.Generic;
using System.Net;

namespace Wsx
{
    /// <summary>
    /// Options of a <see cref="WsxClient"/>, read when <see cref="WsxClient.ConnectAsync"/> starts,
    /// shaped like <c>ClientWebSocketOptions</c> where it has a name (<see cref="SetRequestHeader"/>,
    /// <see cref="AddSubProtocol"/>, <see cref="WsxConnectionOptions.KeepAliveInterval"/>,
    /// <see cref="WsxConnectionOptions.KeepAliveTimeout"/>, <see cref="Proxy"/>; file-based
    /// <see cref="SetClientCertificate"/> and <see cref="CaFile"/> for ClientCertificates and
    /// RemoteCertificateValidationCallback).
    /// The defaults are the native library's (read from it), and so are the rules: a value it
    /// refuses is a <see cref="WsxException"/> with <see cref="WsxResult.InvalidArgument"/> whose
    /// message names the option.
    /// </summary>
    public sealed class WsxClientOptions : WsxConnectionOptions
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






        /// <summary>
        /// A PEM file of extra trusted CA certificates for <c>wss://</c>, or null: the native library
        /// verifies certificates itself, so this takes the place of RemoteCertificateValidationCallback.
        /// </summary>
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
        /// The proxy to connect through, as <c>ClientWebSocketOptions.Proxy</c>, or null (the default)
        /// for none. Its address for the target (<see cref="IWebProxy.GetProxy"/>) may be
        /// <c>http://</c> (HTTP CONNECT; <see cref="IWebProxy.Credentials"/> as Basic authentication),
        /// <c>https://</c> (the same over TLS to the proxy) or <c>socks5://</c> / <c>socks5h://</c>.
        /// Its failures are <see cref="WsxResult.Proxy"/> errors (<see cref="WsxException.HttpStatus"/>
        /// 407 for credentials, 502 for a target it could not reach).
        /// </summary>
        public IWebProxy Proxy { get; set; }

        /// <summary>
        /// Without <see cref="Proxy"/>, use the one the environment names (<c>https_proxy</c> for
        /// <c>wss://</c>, <c>http_proxy</c> for <c>ws://</c>, then <c>all_proxy</c>, with <c>no_proxy</c>
        /// exempting hosts), read when connecting. Default false.
        /// </summary>
        public bool UseEnvironmentProxy { get; set; } = NativeDefaults.Options.proxy_from_env != 0;

        /// <summary>
        /// Resolves host names in place of the system resolver, or null (the default) for the
        /// system's; see <see cref="WsxResolver"/>. Addresses of both families are raced as RFC 8305
        /// says (Happy Eyeballs): IPv6 first, IPv4 250 ms later or as soon as the IPv6 attempt fails,
        /// so a dead IPv6 route costs a quarter second. Within <see cref="ConnectTimeout"/>.
        /// </summary>
        public WsxResolver Resolver { get; set; }

        /// <summary>
        /// Connect to this Unix domain socket instead of the URL's host and port, or null (the
        /// default). The URL still gives the scheme (<c>wss://</c> runs TLS over the socket and
        /// verifies the URL's host name), the <c>Host</c> header and the resource; no proxy is used.
        /// A <c>ws+unix:///path/to.sock:/resource</c> URL (Node's ws spelling, <c>Host: localhost</c>)
        /// does the same without this option (<c>wsx_client_options_set_unix_socket_path</c>). On
        /// systems without Unix domain sockets, connecting fails with <see cref="WsxResult.InvalidArgument"/>.
        /// </summary>
        public string UnixSocketPath { get; set; }


        /// <summary>The client certificate's PEM chain file (leaf first), or null; see <see cref="SetClientCertificate"/>.</summary>
        public string ClientCertificateFile { get; private set; }

        /// <summary>The client certificate's PEM private key file, or null.</summary>
        public string ClientCertificateKeyFile { get; private set; }

        /// <summary>
        /// Presents a client certificate (the file-based ClientCertificates): a PEM chain, leaf
        /// first, and its PEM private key; nulls remove it. Read when connecting.
        /// </summary>
        public void SetClientCertificate(string certificateFile, string keyFile)
        {
            if ((certificateFile == null) != (keyFile == null))
                throw new ArgumentException("a client certificate needs both its chain and its key file");
            ClientCertificateFile = certificateFile;
            ClientCertificateKeyFile = keyFile;
        }

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
