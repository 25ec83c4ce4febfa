using System;
using System.Collections.Generic;
using System.Threading;

namespace Wsx
{
    /// <summary>
    /// Options of a <see cref="WsxServer"/>, read when <see cref="WsxServer.Start"/> runs. The defaults
    /// are the native library's (read from it), and so are the rules: a value it refuses is a
    /// <see cref="WsxException"/> with <see cref="WsxResult.InvalidArgument"/> naming the option.
    /// </summary>
    public sealed class WsxServerOptions : WsxConnectionOptions
    {
        /// <summary>Address to listen on: a name, IPv4 or IPv6 (default <c>127.0.0.1</c>).</summary>
        public string Host { get; set; } = NativeDefaults.ServerHost;

        /// <summary>Port to listen on; 0 (the default) picks a free one, read back from <see cref="WsxServer.Port"/>.</summary>
        public int Port { get; set; } = NativeDefaults.Options.server_port;

        /// <summary>Subprotocols supported, in order of preference; the first one the client also offers is chosen.</summary>
        public IList<string> SubProtocols { get; } = new List<string>();

        /// <summary>
        /// Allowed <c>Origin</c> values; null (the default) allows any origin and requests without one.
        /// A request from another origin is refused with 403.
        /// </summary>
        public IList<string> AllowedOrigins { get; set; }

        /// <summary>Most open connections at once (default 10 000); more are refused.</summary>
        public long MaxConnections { get; set; } = (long)(ulong)NativeDefaults.Options.max_connections;

        /// <summary>Most unfinished handshakes at once (default 1 000).</summary>
        public long MaxPendingHandshakes { get; set; } = (long)(ulong)NativeDefaults.Options.max_pending_handshakes;

        /// <summary>PEM certificate chain (leaf first) for <c>wss://</c>; set with <see cref="KeyFile"/>.</summary>
        public string CertificateFile { get; set; }

        /// <summary>PEM private key of <see cref="CertificateFile"/>.</summary>
        public string KeyFile { get; set; }

        /// <summary>
        /// Mutual TLS: the PEM file of the CA certificates a client's certificate must be signed
        /// by; null (the default) asks clients for none. Needs <see cref="CertificateFile"/>. The
        /// verified certificate is <see cref="WsxUpgradeEventArgs.PeerSubject"/> and
        /// <see cref="WsxServerConnection.PeerSubject"/> (<c>wsx_server_options_set_tls_client_auth</c>).
        /// </summary>
        public string ClientCaFile { get; set; }

        /// <summary>
        /// Mutual TLS: true (the default) fails the TLS handshake of a client without a valid
        /// certificate (reported to <see cref="WsxServer.Error"/>, never reaching
        /// <see cref="WsxServer.Upgrading"/>); false lets a client send none (then
        /// <see cref="WsxUpgradeEventArgs.PeerSubject"/> is null), but one it sends must be valid.
        /// </summary>
        public bool ClientCertificateRequired { get; set; } = true;

        /// <summary>Mutual TLS: a PEM file of certificate revocation lists checked too (null: none).</summary>
        public string ClientCrlFile { get; set; }

        /// <summary>
        /// Plain HTTP requests (a GET without <c>Upgrade: websocket</c>: a load balancer's
        /// <c>GET /healthz</c>, a browser) reach <see cref="WsxServer.Upgrading"/> with
        /// <see cref="WsxUpgradeEventArgs.IsPlainHttp"/> set, to answer with
        /// <see cref="WsxUpgradeEventArgs.Respond(int, string, IEnumerable{KeyValuePair{string, string}})"/>,
        /// instead of getting <c>426 Upgrade Required</c> at once (default false;
        /// <c>wsx_server_options_set_plain_http</c>).
        /// </summary>
        public bool AnswerPlainHttp { get; set; }

        /// <summary>
        /// Joins a cluster sharing pub/sub topics through Redis (null, the default: none):
        /// <see cref="WsxServer.Publish(string, string, WsxConnection)"/> then also reaches the
        /// subscribers of every other node, and theirs reach this server's
        /// (<c>wsx_server_options_set_cluster</c>; see <see cref="WsxServer.ClusterStateChanged"/>).
        /// </summary>
        public WsxClusterOptions Cluster { get; set; }


        /// <summary>
        /// The permessage-deflate (RFC 7692) compression accepted when a client offers it, or null
        /// (the default) to decline every offer. Compression costs memory per connection (up to a
        /// compressor and a decompressor window each); turn it on where bandwidth matters more.
        /// </summary>
        public WsxDeflateOptions Compression { get; set; } = NativeDefaults.Options.server_compression != 0 ? new WsxDeflateOptions() : null;

        /// <summary>
        /// What <see cref="WsxServer.Publish(string, string, WsxConnection)"/> does with a subscriber past its
        /// send queue's high-water mark: <see cref="WsxSlowSubscriberPolicy.Skip"/> (the default) or
        /// <see cref="WsxSlowSubscriberPolicy.Drop"/>; <see cref="WsxServer.SlowSubscriber"/> tells each time.
        /// </summary>
        public WsxSlowSubscriberPolicy SlowSubscriberPolicy { get; set; } = (WsxSlowSubscriberPolicy)NativeDefaults.Options.slow_subscriber;

        /// <summary>
        /// Listen on this Unix domain socket instead of <see cref="Host"/> and <see cref="Port"/>, or
        /// null (the default). The socket file takes the permissions the umask leaves and is removed
        /// when the server stops. A file already there makes <see cref="WsxServer.Start"/> fail with
        /// <see cref="WsxResult.Io"/> and a message saying what it is, unless
        /// <see cref="RemoveStaleSocket"/> allows removing a stale socket. Its connections'
        /// <see cref="WsxConnection.RemoteAddress"/> is <c>"unix:"</c> (a client's socket is unnamed)
        /// and <see cref="WsxServer.Port"/> is 0 (<c>wsx_server_options_set_unix_socket</c>).
        /// </summary>
        public string UnixSocketPath { get; set; }

        /// <summary>
        /// With <see cref="UnixSocketPath"/>: a socket file no server accepts on (a crashed server's)
        /// is removed before listening (default false: refused). A live server's socket and a file
        /// that is not a socket are never removed.
        /// </summary>
        public bool RemoveStaleSocket { get; set; }

        /// <summary>
        /// Bind <see cref="Port"/> with <c>SO_REUSEPORT</c> (default false): several servers, in this
        /// process or others, each with this option, listen on one port and the kernel spreads new
        /// connections among them. Without it, <see cref="WsxServer.Start"/> on a port another socket
        /// listens on fails with <see cref="WsxResult.Io"/> and a message saying to set this. Linux,
        /// macOS and the BSDs; elsewhere, and with <see cref="UnixSocketPath"/>, <see cref="WsxServer.Start"/>
        /// fails with <see cref="WsxResult.InvalidArgument"/> ("not supported on this platform")
        /// (<c>wsx_server_options_set_reuse_port</c>).
        /// </summary>
        public bool ReusePort { get; set; }

        /// <summary>
        /// Network threads (event loops) the server spreads its connections over, sharing
        /// <see cref="Port"/> (default 1: the library's loop thread alone). On Linux each listens with
        /// <c>SO_REUSEPORT</c> and the kernel balances; elsewhere the first hands connections to the
        /// others in turn. <c>WsxServer.Publish</c> reaches the subscribers on every thread
        /// once; the counters, the connection limit and the drain cover them all. 0 or more than 256:
        /// <see cref="WsxServer.Start"/> fails with <see cref="WsxResult.InvalidArgument"/>
        /// (<c>wsx_server_options_set_loops</c>). With more than one, the events of different
        /// connections come from several threads at once (those of one connection stay in order).
        /// </summary>
        public long Loops { get; set; } = (long)(ulong)NativeDefaults.Options.server_loops;

    }
}
