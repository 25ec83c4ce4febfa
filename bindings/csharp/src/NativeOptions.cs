using System;
using System.Threading;

namespace Wsx
{
    /// <summary>Copies the managed options into native option objects.</summary>
    internal static class NativeOptions
    {
        /// <summary>Native client options for <paramref name="options"/>; the caller disposes them.</summary>
        internal static ClientOptionsHandle Build(WsxClientOptions options, Uri target)
        {
            ClientOptionsHandle native;
            Native.Check(NativeMethods.wsx_client_options_new(out native));
            try
            {
                SetShared(NativeMethods.wsx_client_options_conn(native), options, options.SubProtocols, options.Compression);
                foreach (var header in options.RequestHeaders)
                    Native.Check(NativeMethods.wsx_client_options_add_header(native, Native.Utf8(header.Key), Native.Utf8(header.Value)));
                if (options.Origin != null)
                    Native.Check(NativeMethods.wsx_client_options_set_origin(native, Native.Utf8(options.Origin)));
                Native.Check(NativeMethods.wsx_client_options_set_connect_timeout_ms(native, Milliseconds(options.ConnectTimeout, "ConnectTimeout")));
                if (options.CaFile != null)
                    Native.Check(NativeMethods.wsx_client_options_set_tls_ca_file(native, Native.Utf8(options.CaFile)));
                if (options.ClientCertificateFile != null)
                    Native.Check(NativeMethods.wsx_client_options_set_tls_client_cert(
                        native, Native.Utf8(options.ClientCertificateFile), Native.Utf8(options.ClientCertificateKeyFile)));
                Native.Check(NativeMethods.wsx_client_options_set_tls_danger_disable_verification(native, !options.VerifyCertificate));
                SetReconnect(native, options.Reconnect);
                var proxy = ProxyUrl(options.Proxy, target);
                if (proxy != null)
                    Native.Check(NativeMethods.wsx_client_options_set_proxy(native, Native.Utf8(proxy)));
                Native.Check(NativeMethods.wsx_client_options_set_proxy_from_env(native, options.UseEnvironmentProxy));
                ResolverCallbacks.Set(native, options.Resolver);
                if (options.UnixSocketPath != null)
                    Native.Check(NativeMethods.wsx_client_options_set_unix_socket_path(native, Native.Utf8(options.UnixSocketPath)));
                return native;
            }
            catch
            {
                native.Dispose();
                throw;
            }
        }

        /// <summary>The proxy URL an <see cref="System.Net.IWebProxy"/> gives for <paramref name="target"/>, with its credentials; null for none.</summary>
        static string ProxyUrl(System.Net.IWebProxy proxy, Uri target)
        {
            if (proxy == null)
                return null;
            // IWebProxy speaks http(s) URIs: ask for the target as such.
            var asHttp = new UriBuilder(target) { Scheme = target.Scheme == "wss" ? "https" : "http" }.Uri;
            if (proxy.IsBypassed(asHttp))
                return null;
            var address = proxy.GetProxy(asHttp);
            if (address == null || address == asHttp)
                return null;
            if (!address.IsAbsoluteUri)
                throw new ArgumentException("the proxy's address must be absolute (http://, https://, socks5://)", "Proxy");
            var credential = proxy.Credentials == null ? null : proxy.Credentials.GetCredential(address, "Basic");
            if (credential == null || string.IsNullOrEmpty(credential.UserName))
                return address.AbsoluteUri;
            var builder = new UriBuilder(address)
            {
                UserName = Uri.EscapeDataString(credential.UserName),
                Password = Uri.EscapeDataString(credential.Password ?? ""),
            };
            return builder.Uri.AbsoluteUri;
        }

        static void KeepAlive(WsxConnectionOptions c, out uint interval, out uint timeout)
        {
            var off = c.KeepAliveInterval == TimeSpan.Zero || c.KeepAliveInterval == Timeout.InfiniteTimeSpan;
            interval = off ? 0 : Milliseconds(c.KeepAliveInterval, "KeepAliveInterval");
            timeout = off ? 0 : Milliseconds(c.KeepAliveTimeout, "KeepAliveTimeout");
        }

        internal static ServerOptionsHandle Build(WsxServerOptions options)
        {
            if (options.Port < 0 || options.Port > ushort.MaxValue)
                throw new ArgumentOutOfRangeException("Port", options.Port, "a port is 0 to 65535");
            if (options.AllowedOrigins != null && options.AllowedOrigins.Count == 0)
                throw new ArgumentException("AllowedOrigins is empty; set it to null to allow any origin", "AllowedOrigins");
            if ((options.CertificateFile == null) != (options.KeyFile == null))
                throw new ArgumentException("TLS needs both CertificateFile and KeyFile", "KeyFile");
            if (options.ClientCrlFile != null && options.ClientCaFile == null)
                throw new ArgumentException("ClientCrlFile needs ClientCaFile", "ClientCrlFile");
            ServerOptionsHandle native;
            Native.Check(NativeMethods.wsx_server_options_new(out native));
            try
            {
                SetShared(NativeMethods.wsx_server_options_conn(native), options, options.SubProtocols, options.Compression);
                Native.Check(NativeMethods.wsx_server_options_set_max_connections(native, Size(options.MaxConnections, "MaxConnections")));
                Native.Check(NativeMethods.wsx_server_options_set_max_pending_handshakes(native, Size(options.MaxPendingHandshakes, "MaxPendingHandshakes")));
                if (options.Host != null)
                    Native.Check(NativeMethods.wsx_server_options_set_host(native, Native.Utf8(options.Host)));
                Native.Check(NativeMethods.wsx_server_options_set_port(native, (ushort)options.Port));
                if (options.AllowedOrigins != null)
                    foreach (var origin in options.AllowedOrigins)
                        Native.Check(NativeMethods.wsx_server_options_add_origin(native, Native.Utf8(origin)));
                if (options.CertificateFile != null)
                    Native.Check(NativeMethods.wsx_server_options_set_tls(native, Native.Utf8(options.CertificateFile), Native.Utf8(options.KeyFile)));
                if (options.ClientCaFile != null)
                    Native.Check(NativeMethods.wsx_server_options_set_tls_client_auth(
                        native, Native.Utf8(options.ClientCaFile), options.ClientCertificateRequired, Native.Utf8(options.ClientCrlFile)));
                Native.Check(NativeMethods.wsx_server_options_set_plain_http(native, options.AnswerPlainHttp));
                if (options.Cluster != null)
                    SetCluster(native, options.Cluster);
                Native.Check(NativeMethods.wsx_server_options_set_slow_subscriber(native, (uint)options.SlowSubscriberPolicy));
                if (options.UnixSocketPath != null)
                    Native.Check(NativeMethods.wsx_server_options_set_unix_socket(native, Native.Utf8(options.UnixSocketPath), options.RemoveStaleSocket));
                if (options.ReusePort)
                    Native.Check(NativeMethods.wsx_server_options_set_reuse_port(native, true));
                Native.Check(NativeMethods.wsx_server_options_set_loops(native, Size(options.Loops, "Loops")));
                return native;
            }
            catch
            {
                native.Dispose();
                throw;
            }
        }

        static unsafe void SetCluster(ServerOptionsHandle native, WsxClusterOptions cluster)
        {
            if (cluster.Url == null)
                throw new ArgumentException("a cluster needs its Redis Url", "Cluster");
            var reconnect = cluster.Reconnect != null ? cluster.Reconnect.ToNative() : default(NativeMethods.wsx_reconnect_options);
            fixed (byte* url = Native.Utf8(cluster.Url))
            fixed (byte* prefix = Native.Utf8(cluster.Prefix))
            fixed (byte* nodeId = Native.Utf8(cluster.NodeId))
            fixed (byte* caFile = Native.Utf8(cluster.TlsCaFile))
            {
                var c = new NativeMethods.wsx_cluster_options
                {
                    struct_size = (UIntPtr)sizeof(NativeMethods.wsx_cluster_options),
                    url = url,
                    prefix = prefix,
                    node_id = nodeId,
                    tls_ca_file = caFile,
                    reconnect = cluster.Reconnect != null ? &reconnect : null,
                    max_queued = Size(cluster.MaxQueued, "Cluster.MaxQueued"),
                    max_queued_bytes = Size(cluster.MaxQueuedBytes, "Cluster.MaxQueuedBytes"),
                    connect_timeout_ms = ClusterMs(cluster.ConnectTimeout, "Cluster.ConnectTimeout"),
                    keepalive_ms = ClusterMs(cluster.KeepAlive, "Cluster.KeepAlive"),
                    queue_full = (int)cluster.QueueFull,
                    sharded = cluster.Sharded ? (byte)1 : (byte)0,
                };
                Native.Check(NativeMethods.wsx_server_options_set_cluster(native, &c));
            }
        }

        /// <summary>A cluster time in ms; null is 0 (the library's default), a zero or negative time is refused here.</summary>
        static uint ClusterMs(TimeSpan? time, string name)
        {
            if (time == null)
                return 0;
            var ms = time.Value.TotalMilliseconds;
            if (ms < 1 || ms > uint.MaxValue)
                throw new ArgumentOutOfRangeException(name, time, "1 ms to 49 days (null: the default)");
            return (uint)ms;
        }

        static unsafe void SetReconnect(ClientOptionsHandle native, WsxReconnectPolicy policy)
        {
            var reconnect = policy != null ? policy.ToNative() : default(NativeMethods.wsx_reconnect_options);
            Native.Check(NativeMethods.wsx_client_options_set_reconnect(native, policy != null ? &reconnect : null));
            var codes = policy != null ? policy.RetryCloseCodesToNative() : null;
            fixed (ushort* first = codes)
            {
                // null: the native default set; an empty array: no close code (pinned as a non-null pointer).
                ushort none = 0;
                ushort* at = codes == null ? null : codes.Length == 0 ? &none : first;
                Native.Check(NativeMethods.wsx_client_options_set_reconnect_codes(native, at, (UIntPtr)(codes == null ? 0 : codes.Length)));
            }
        }

        /// <summary>Sets or (for null) turns off permessage-deflate.</summary>
        /// <summary>
        /// The settings both sides share, written on the options' borrowed <c>wsx_conn_options</c>,
        /// and pull mode (the library's inbox with its default marks): the binding reads every
        /// connection with <c>wsx_conn_recv</c>.
        /// </summary>
        static unsafe void SetShared(IntPtr conn, WsxConnectionOptions c, System.Collections.Generic.IEnumerable<string> subProtocols, WsxDeflateOptions compression)
        {
            if (conn == IntPtr.Zero)
                throw Native.Failure(WsxResult.Null);
            Native.Check(NativeMethods.wsx_conn_options_set_max_message_size(conn, Size(c.MaxMessageSize, "MaxMessageSize")));
            Native.Check(NativeMethods.wsx_conn_options_set_max_frame_size(conn, Size(c.MaxFrameSize, "MaxFrameSize")));
            Native.Check(NativeMethods.wsx_conn_options_set_handshake_limits(conn, Size(c.MaxHeaderBytes, "MaxHeaderBytes"), Size(c.MaxHeaders, "MaxHeaders")));
            Native.Check(NativeMethods.wsx_conn_options_set_handshake_timeout_ms(conn, Milliseconds(c.HandshakeTimeout, "HandshakeTimeout")));
            Native.Check(NativeMethods.wsx_conn_options_set_close_timeout_ms(conn, Milliseconds(c.CloseTimeout, "CloseTimeout")));
            uint interval, timeout;
            KeepAlive(c, out interval, out timeout);
            Native.Check(NativeMethods.wsx_conn_options_set_keepalive(conn, interval, timeout));
            Native.Check(NativeMethods.wsx_conn_options_set_idle_timeout_ms(conn, Milliseconds(c.IdleTimeout, "IdleTimeout")));
            Native.Check(NativeMethods.wsx_conn_options_set_backpressure(conn, Size(c.SendHighWaterMark, "SendHighWaterMark"), Size(c.SendLowWaterMark, "SendLowWaterMark")));
            Native.Check(NativeMethods.wsx_conn_options_set_nodelay(conn, c.NoDelay));
            Native.Check(NativeMethods.wsx_conn_options_set_auto_pong(conn, c.AutoPong));
            Native.Check(NativeMethods.wsx_conn_options_set_reject_binary(conn, c.RejectBinary));
            foreach (var protocol in subProtocols)
                Native.Check(NativeMethods.wsx_conn_options_add_subprotocol(conn, Native.Utf8(protocol)));
            var deflate = compression != null ? compression.ToNative() : default(NativeMethods.wsx_deflate_options);
            Native.Check(NativeMethods.wsx_conn_options_set_compression(conn, compression != null ? &deflate : null));
            var inbox = new NativeMethods.wsx_inbox_options
            {
                struct_size = (UIntPtr)sizeof(NativeMethods.wsx_inbox_options),
                high_messages = Size(c.ReceiveHighMessages, "ReceiveHighMessages"),
                low_messages = Size(c.ReceiveLowMessages, "ReceiveLowMessages"),
                high_bytes = Size(c.ReceiveHighBytes, "ReceiveHighBytes"),
                low_bytes = Size(c.ReceiveLowBytes, "ReceiveLowBytes"),
            };
            Native.Check(NativeMethods.wsx_conn_options_set_inbox(conn, &inbox));
        }

        static UIntPtr Size(long bytes, string name)
        {
            if (bytes < 0 || (UIntPtr.Size == 4 && bytes > uint.MaxValue))
                throw new ArgumentOutOfRangeException(name, bytes, "must not be negative and must be addressable");
            return (UIntPtr)(ulong)bytes;
        }

        /// <summary>
        /// A time span as whole milliseconds (rounded up), as the native options take it. Only what
        /// they cannot hold throws here; the library's rules (more than 0 ms, ...) give a
        /// <see cref="WsxException"/> naming the option.
        /// </summary>
        static uint Milliseconds(TimeSpan span, string name)
        {
            if (span < TimeSpan.Zero || span.TotalMilliseconds > uint.MaxValue)
                throw new ArgumentOutOfRangeException(name, span, "must not be negative and must be under 49 days");
            return (uint)Math.Ceiling(span.TotalMilliseconds);
        }
    }
}
