using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography.X509Certificates;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx
{
    /// <summary>
    /// A WebSocket server on the native wsx library. Subscribe to its events, then
    /// <see cref="Start"/> it; every connected client arrives through
    /// <see cref="ClientConnected"/> as a <see cref="WsxConnection"/> that can send and close
    /// from any thread.
    /// </summary>
    /// <remarks>
    /// Events run on the loop thread unless <see cref="WsxConnectionOptions.SynchronizationContext"/>
    /// is set. A started server runs until <see cref="Dispose"/>, even if nothing references it.
    /// </remarks>
    public sealed unsafe partial class WsxServer : IDisposable
    {
        static readonly NativeMethods.wsx_on_upgrade UpgradeDelegate = OnUpgrade;
        static readonly NativeMethods.wsx_on_server_error ServerErrorDelegate = OnServerError;
        static readonly NativeMethods.wsx_on_slow_subscriber SlowSubscriberDelegate = OnSlowSubscriber;
        static readonly NativeMethods.wsx_on_shutdown ShutdownDelegate = OnShutdown;
        static readonly NativeMethods.wsx_on_cluster_state ClusterStateDelegate = OnClusterState;
        static readonly NativeMethods.wsx_on_cluster_gap ClusterGapDelegate = OnClusterGap;

        readonly object gate = new object();
        readonly WsxServerOptions options;
        readonly EventDispatcher events;
        /// <summary>Open connections by native id, to name slow subscribers; changed on the loop threads (several with <see cref="WsxServerOptions.Loops"/> above 1).</summary>
        readonly ConcurrentDictionary<ulong, WsxConnection> connections = new ConcurrentDictionary<ulong, WsxConnection>();
        /// <summary>Completed by <c>on_shutdown</c>: the drain (or Dispose's shutdown) is over.</summary>
        readonly TaskCompletionSource<bool> stopped = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        ServerHandle handle;
        bool disposed;

        /// <summary>A server with these options (read by <see cref="Start"/>; null for the defaults).</summary>
        public WsxServer(WsxServerOptions options)
        {
            this.options = options ?? new WsxServerOptions();
            events = new EventDispatcher(this.options.SynchronizationContext, e => RaiseError(null, e));
        }

        /// <summary><see cref="WsxConnectionOptions.InlineCompletions"/> as <see cref="Start"/> read it, for every connection accepted.</summary>
        internal bool InlineCompletions { get; private set; }

        /// <summary>The port the server listens on, once started (0 before, and on a Unix domain socket).</summary>
        public int Port { get; private set; }

        /// <summary>
        /// A handshake request arrived (after the Origin allow-list): refuse it, pick its
        /// subprotocol, add response headers, or answer it with an HTTP response of its own
        /// (<see cref="WsxUpgradeEventArgs.Respond(int, string, System.Collections.Generic.IEnumerable{System.Collections.Generic.KeyValuePair{string, string}})"/>);
        /// with <see cref="WsxServerOptions.AnswerPlainHttp"/>, plain HTTP requests too
        /// (<see cref="WsxUpgradeEventArgs.IsPlainHttp"/>). Routing by path starts here: answer
        /// unknown paths (404), then pick each connection's handler by its
        /// <see cref="WsxConnection.RequestPath"/>. Raised on the loop thread before the connection
        /// exists (never posted to the <see cref="WsxConnectionOptions.SynchronizationContext"/>); the
        /// handler must return quickly. An exception refuses the request with 500 and goes to
        /// <see cref="Error"/>.
        /// </summary>
        public event EventHandler<WsxUpgradeEventArgs> Upgrading;

        /// <summary>
        /// A client finished its handshake: <see cref="WsxConnectionEventArgs.Connection"/> is its
        /// <see cref="WsxServerConnection"/>, a WebSocket to read with ReceiveAsync (or to leave
        /// to <see cref="MessageReceived"/>).
        /// </summary>
        public event EventHandler<WsxConnectionEventArgs> ClientConnected;

        /// <summary>
        /// A message arrived from a client. With a handler attached when a connection opens, the
        /// binding reads that connection for you (ReceiveAsync on it then throws
        /// <see cref="InvalidOperationException"/>); without one, read connections with ReceiveAsync.
        /// </summary>
        public event EventHandler<WsxMessageEventArgs> MessageReceived;

        /// <summary>A client's connection is over, with its close status.</summary>
        public event EventHandler<WsxClosedEventArgs> ClientDisconnected;

        /// <summary>
        /// A published message found a subscriber past its high-water mark, which was skipped or
        /// dropped as <see cref="WsxServerOptions.SlowSubscriberPolicy"/> says; raised once per message missed.
        /// </summary>
        public event EventHandler<WsxSlowSubscriberEventArgs> SlowSubscriber;

        /// <summary>
        /// The link to the cluster's broker (<see cref="WsxServerOptions.Cluster"/>) changed state:
        /// <see cref="WsxClusterState.Up"/> once connected and subscribed, <see cref="WsxClusterState.Down"/>
        /// with the reason while Redis cannot be reached (publications then reach local subscribers only).
        /// </summary>
        public event EventHandler<WsxClusterStateEventArgs> ClusterStateChanged;

        /// <summary>
        /// Publications of another node of the cluster to a topic with subscribers here were lost:
        /// resynchronise those subscribers (raised before that node's next publication is delivered).
        /// </summary>
        public event EventHandler<WsxClusterGapEventArgs> ClusterGap;

        /// <summary>
        /// Something failed: on a client's connection (<see cref="WsxErrorEventArgs.Connection"/> set),
        /// outside any (a failed incoming handshake), or in an event handler.
        /// </summary>
        public event EventHandler<WsxErrorEventArgs> Error;

        /// <summary>
        /// Binds and starts listening (the port is bound when this returns).
        /// </summary>
        /// <exception cref="WsxException">The address could not be bound, or the TLS files could not be read.</exception>
        /// <exception cref="InvalidOperationException">Already started.</exception>
        public void Start()
        {
            lock (gate)
            {
                if (disposed)
                    throw new ObjectDisposedException(nameof(WsxServer));
                if (handle != null)
                    throw new InvalidOperationException("the server is already started");
                using (var nativeOptions = NativeOptions.Build(options))
                {
                    var loop = NativeLoop.Shared;
                    var callbacks = new NativeMethods.wsx_server_callbacks
                    {
                        struct_size = (UIntPtr)Marshal.SizeOf(typeof(NativeMethods.wsx_server_callbacks)),
                        // Freed by the library once the server and its connections are gone (also if listening fails).
                        user_data = GCHandle.ToIntPtr(GCHandle.Alloc(this)),
                        on_upgrade = Marshal.GetFunctionPointerForDelegate(UpgradeDelegate),
                        on_server_error = Marshal.GetFunctionPointerForDelegate(ServerErrorDelegate),
                        on_slow_subscriber = Marshal.GetFunctionPointerForDelegate(SlowSubscriberDelegate),
                        on_shutdown = Marshal.GetFunctionPointerForDelegate(ShutdownDelegate),
                        on_cluster_state = Marshal.GetFunctionPointerForDelegate(ClusterStateDelegate),
                        on_cluster_gap = Marshal.GetFunctionPointerForDelegate(ClusterGapDelegate),
                        free_user_data = ConnCallbacks.FreeUserDataPointer,
                    };
                    InlineCompletions = options.InlineCompletions;
                    ServerHandle server;
                    Native.Check(NativeMethods.wsx_loop_listen(loop, nativeOptions, ref callbacks, out server));
                    handle = server;
                    Port = NativeMethods.wsx_server_port(server);
                }
            }
        }

        /// <summary>
        /// Sends a message to every connection subscribed to <paramref name="topic"/> (see
        /// <see cref="WsxConnection.Subscribe"/>) but <paramref name="except"/> (typically the
        /// connection that sent it; null for none), and returns how many it was queued for. The
        /// frame is built once and shared by all subscribers, and the bytes are copied before this
        /// returns. A subscriber past its high-water mark is skipped or dropped (see
        /// <see cref="WsxServerOptions.SlowSubscriberPolicy"/>) and not counted. Never waits;
        /// callable from any thread, also from event handlers; the messages one thread publishes
        /// reach each subscriber in order. On a server in a cluster (<see cref="WsxServerOptions.Cluster"/>)
        /// the message also goes to every other node's subscribers through Redis (the count is this server's).
        /// </summary>
        /// <exception cref="InvalidOperationException">The server is not started.</exception>
        /// <exception cref="WsxException">Text that is not UTF-8 (<see cref="WsxResult.InvalidArgument"/>), or the server stopped.</exception>
        public unsafe int Publish(string topic, ArraySegment<byte> data, WebSocketMessageType messageType, WsxConnection except = null)
        {
            if (data.Array == null)
                throw new ArgumentNullException(nameof(data));
            var kind = Native.MessageKind(messageType, nameof(messageType));
            var topicBytes = WsxConnection.Topic(topic);
            var server = StartedHandle();
            // A disposed (so closing) `except` gets nothing anyway: then skip none.
            var skip = except == null ? null : except.HandleOrNull();
            bool referenced = false;
            try
            {
                if (skip != null)
                {
                    try
                    {
                        skip.DangerousAddRef(ref referenced);
                    }
                    catch (ObjectDisposedException)
                    {
                    }
                }
                UIntPtr count;
                fixed (byte* bytes = data.Array)
                {
                    Native.Check(NativeMethods.wsx_server_publish(
                        server, topicBytes, kind, bytes + data.Offset, (UIntPtr)data.Count,
                        referenced ? skip.DangerousGetHandle() : IntPtr.Zero, out count));
                }
                return checked((int)(ulong)count);
            }
            finally
            {
                if (referenced)
                    skip.DangerousRelease();
            }
        }

        /// <summary>Publishes a text message (see the binary overload).</summary>
        public int Publish(string topic, string text, WsxConnection except = null)
        {
            if (text == null)
                throw new ArgumentNullException(nameof(text));
            return Publish(topic, new ArraySegment<byte>(System.Text.Encoding.UTF8.GetBytes(text)), WebSocketMessageType.Text, except);
        }

        /// <summary>How many connections are subscribed to <paramref name="topic"/> now.</summary>
        /// <exception cref="InvalidOperationException">The server is not started.</exception>
        public int SubscriberCount(string topic)
        {
            var topicBytes = WsxConnection.Topic(topic);
            UIntPtr count;
            Native.Check(NativeMethods.wsx_server_subscribers(StartedHandle(), topicBytes, out count));
            return checked((int)(ulong)count);
        }

        /// <summary>
        /// Graceful shutdown, the drain (<c>wsx_server_drain</c>): every open connection gets a
        /// close frame with <paramref name="closeStatus"/> and <paramref name="statusDescription"/>
        /// (null: none) and the time to answer; handshakes meanwhile, plain HTTP included, are
        /// answered <c>503 Service Unavailable</c> (a load balancer's health check fails over);
        /// connections still open after <paramref name="timeout"/> are dropped. Then the server
        /// stops listening and the returned task completes. <c>(WebSocketCloseStatus)1012</c>
        /// ("service restart") tells reconnecting clients to come back; 1001 (going away) is what
        /// <see cref="Dispose"/> sends. A second call changes nothing and returns the same
        /// completion. Dispose the server afterwards. Callable from any thread.
        /// </summary>
        /// <param name="closeStatus">The code of every close frame (1000-4999 but the reserved ones).</param>
        /// <param name="statusDescription">Their reason (null: none; at most 123 bytes of UTF-8).</param>
        /// <param name="timeout">How long connections have to close before they are dropped.</param>
        /// <param name="cancellationToken">Stops the wait only (the drain goes on).</param>
        /// <exception cref="InvalidOperationException">The server is not started.</exception>
        /// <exception cref="WsxException">A code or reason a close frame cannot carry (<see cref="WsxResult.InvalidArgument"/>).</exception>
        public Task DrainAsync(WebSocketCloseStatus closeStatus, string statusDescription, TimeSpan timeout,
                               CancellationToken cancellationToken = default(CancellationToken))
        {
            if ((int)closeStatus < 0 || (int)closeStatus > ushort.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(closeStatus), closeStatus, "a close code fits in 16 bits");
            var ms = timeout.TotalMilliseconds;
            if (ms < 0 || ms > uint.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "0 to 49 days");
            Native.Check(NativeMethods.wsx_server_drain(StartedHandle(), (ushort)closeStatus, Native.Utf8(statusDescription), (uint)ms));
            return Tasks.WithCancellation(stopped.Task, cancellationToken);
        }

        /// <summary>Completes once the server stopped (after <see cref="DrainAsync"/>, or the shutdown of <see cref="Dispose"/>).</summary>
        public Task Stopped
        {
            get { return stopped.Task; }
        }

        /// <summary>The state of the link to the cluster's broker (<c>wsx_server_cluster_state</c>).</summary>
        /// <exception cref="InvalidOperationException">The server is not started.</exception>
        /// <exception cref="WsxException">The server joined no cluster (<see cref="WsxResult.State"/>).</exception>
        public WsxClusterState ClusterState
        {
            get
            {
                int state;
                Native.Check(NativeMethods.wsx_server_cluster_state(StartedHandle(), out state));
                return (WsxClusterState)state;
            }
        }

        /// <summary>The figures of the cluster link now (<c>wsx_server_cluster_stats</c>).</summary>
        /// <exception cref="InvalidOperationException">The server is not started.</exception>
        /// <exception cref="WsxException">The server joined no cluster (<see cref="WsxResult.State"/>).</exception>
        public WsxClusterStats ClusterStats
        {
            get
            {
                var stats = new NativeMethods.wsx_cluster_stats { struct_size = (UIntPtr)sizeof(NativeMethods.wsx_cluster_stats) };
                Native.Check(NativeMethods.wsx_server_cluster_stats(StartedHandle(), &stats));
                return new WsxClusterStats(stats);
            }
        }

        /// <summary>This node's id in the cluster (the one set, or the random one the library chose).</summary>
        /// <exception cref="InvalidOperationException">The server is not started.</exception>
        /// <exception cref="WsxException">The server joined no cluster (<see cref="WsxResult.State"/>).</exception>
        public string ClusterNodeId
        {
            get
            {
                var buffer = stackalloc byte[256];
                Native.Check(NativeMethods.wsx_server_cluster_node_id(StartedHandle(), buffer, (UIntPtr)256));
                return Native.String((IntPtr)buffer);
            }
        }

        ServerHandle StartedHandle()
        {
            lock (gate)
            {
                if (disposed)
                    throw new ObjectDisposedException(nameof(WsxServer));
                if (handle == null)
                    throw new InvalidOperationException("the server is not started");
                return handle;
            }
        }

        /// <summary>
        /// Stops accepting and closes every connection with 1001 (going away), without waiting for
        /// the peers; no event is raised afterwards, and the connections are disposed (their close
        /// handshakes go on in the library). Waits for event handlers still running (up to a second
        /// each, not for the one calling), so nothing of the server is left running once it
        /// returns: a program may return from Main right after. Safe to call more than once.
        /// </summary>
        public void Dispose()
        {
            ServerHandle server;
            lock (gate)
            {
                if (disposed)
                    return;
                disposed = true;
                server = handle;
            }
            if (server != null)
            {
                NativeMethods.wsx_server_shutdown(server, 1000);
                server.Dispose();
            }
            // Track refuses connections from now on: these are all there will be.
            foreach (var connection in connections.Values)
                connection.Release(abortTransport: false);
        }

        bool IsDisposed
        {
            get { lock (gate) return disposed; }
        }

        internal bool HasMessageHandlers
        {
            get { return MessageReceived != null; }
        }

        internal EventDispatcher Events
        {
            get { return events; }
        }

        internal void RaiseConnected(WsxConnection connection)
        {
            Raise(() => ClientConnected?.Invoke(this, new WsxConnectionEventArgs(connection)));
        }

        internal void RaiseMessage(WsxConnection connection, WsxMessage message)
        {
            Raise(() => MessageReceived?.Invoke(this, new WsxMessageEventArgs(connection, message)));
        }

        internal void RaiseDisconnected(WsxConnection connection, WebSocketCloseStatus status, string description, bool clean)
        {
            Raise(() => ClientDisconnected?.Invoke(this, new WsxClosedEventArgs(connection, status, description, clean)));
        }

        /// <summary>Records an open connection; false once the server is disposed (the connection then disposes itself).</summary>
        internal bool Track(ulong id, WsxConnection connection)
        {
            lock (gate)
            {
                if (disposed)
                    return false;
                connections[id] = connection;
                return true;
            }
        }

        internal void Untrack(ulong id)
        {
            WsxConnection gone;
            connections.TryRemove(id, out gone);
        }

        internal void RaiseError(WsxConnection connection, Exception error)
        {
            if (!IsDisposed)
                events.RaiseError(() => Error?.Invoke(this, new WsxErrorEventArgs(connection, error)));
        }

        void Raise(Action raise)
        {
            if (!IsDisposed)
                events.Raise(() =>
                {
                    if (!IsDisposed)
                        raise();
                });
        }

        static WsxServer Target(IntPtr userData)
        {
            return (WsxServer)GCHandle.FromIntPtr(userData).Target;
        }

        /// <summary>Gives each accepted connection callbacks of its own, with its own GCHandle.</summary>
        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_upgrade))]
        static void OnUpgrade(IntPtr userData, IntPtr upgrade, NativeMethods.wsx_request* request)
        {
            if (!NativeLoop.EnterCallback())
            {
                // The process exits: no new connection.
                NativeMethods.wsx_upgrade_refuse(upgrade, 503, Native.Utf8("shutting down"));
                return;
            }
            try
            {
                var server = Target(userData);
                if (server.Decide(upgrade, request))
                    return;
                var connection = new WsxServerConnection(server);
                var callbacks = ConnCallbacks.For(GCHandle.Alloc(connection), client: false);
                var result = NativeMethods.wsx_upgrade_set_callbacks(upgrade, ref callbacks);
                if (result != WsxResult.Ok)
                    throw Native.Failure(result);
            }
            catch (Exception e)
            {
                // Never accept a connection nobody listens to: refuse it, and tell.
                try
                {
                    NativeMethods.wsx_upgrade_refuse(upgrade, 500, Native.Utf8("internal error"));
                    Target(userData).RaiseError(null, e);
                }
                catch (Exception again)
                {
                    Trace.TraceError("wsx: upgrade failed: {0} (then: {1})", e, again);
                }
            }
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_cluster_state))]
        static void OnClusterState(IntPtr userData, NativeMethods.wsx_cluster_state_event* state)
        {
            if (!NativeLoop.EnterCallback())
                return;
            try
            {
                var server = Target(userData);
                var args = new WsxClusterStateEventArgs((WsxClusterState)state->state, Native.String(state->detail, state->detail_len));
                server.Raise(() => server.ClusterStateChanged?.Invoke(server, args));
            }
            catch (Exception e)
            {
                Trace.TraceError("wsx: the cluster-state callback failed: {0}", e);
            }
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_cluster_gap))]
        static void OnClusterGap(IntPtr userData, NativeMethods.wsx_cluster_gap* gap)
        {
            if (!NativeLoop.EnterCallback())
                return;
            try
            {
                var server = Target(userData);
                if (server.ClusterGap == null)
                    return;
                var args = new WsxClusterGapEventArgs(gap);
                server.Raise(() => server.ClusterGap?.Invoke(server, args));
            }
            catch (Exception e)
            {
                Trace.TraceError("wsx: the cluster-gap callback failed: {0}", e);
            }
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_shutdown))]
        static void OnShutdown(IntPtr userData)
        {
            if (!NativeLoop.EnterCallback())
                return;
            try
            {
                Target(userData).stopped.TrySetResult(true);
            }
            catch (Exception e)
            {
                Trace.TraceError("wsx: the shutdown callback failed: {0}", e);
            }
        }

        /// <summary>Runs the Upgrading handlers on a request; true if they refused it or answered it (no connection follows).</summary>
        bool Decide(IntPtr upgrade, NativeMethods.wsx_request* request)
        {
            var handler = Upgrading;
            // A plain HTTP request nobody answers gets the 426; it never becomes a connection.
            var plain = request->plain_http != 0;
            if (handler == null || IsDisposed)
                return plain;
            var args = new WsxUpgradeEventArgs(
                upgrade, Native.String(request->path), OpenEvent.HeaderDictionary(request->headers, request->headers_len),
                Native.String(request->origin), Native.String(request->peer_addr), Native.String(request->subprotocol),
                plain, PeerIdentity.Copy(request->peer_subject, request->peer_certs, request->peer_certs_len));
            try
            {
                handler(this, args);
            }
            finally
            {
                args.Expire();
            }
            return args.Refused || args.Responded || plain;
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_slow_subscriber))]
        static void OnSlowSubscriber(IntPtr userData, NativeMethods.wsx_slow_subscriber_event* slow)
        {
            if (!NativeLoop.EnterCallback())
                return;
            try
            {
                var server = Target(userData);
                if (server.SlowSubscriber == null)
                    return;
                WsxConnection connection;
                server.connections.TryGetValue(slow->conn_id, out connection);
                var args = new WsxSlowSubscriberEventArgs(
                    connection, Native.String(slow->topic, slow->topic_len), (WsxSlowSubscriberPolicy)slow->action);
                server.Raise(() => server.SlowSubscriber?.Invoke(server, args));
            }
            catch (Exception e)
            {
                Trace.TraceError("wsx: the slow-subscriber callback failed: {0}", e);
            }
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_server_error))]
        static void OnServerError(IntPtr userData, NativeMethods.wsx_error* error)
        {
            if (!NativeLoop.EnterCallback())
                return;
            try
            {
                Target(userData).RaiseError(null, Native.ErrorOf(error));
            }
            catch (Exception e)
            {
                Trace.TraceError("wsx: a server callback failed: {0}", e);
            }
        }
    }

    /// <summary>A client connected to a <see cref="WsxServer"/>: its events are the server's.</summary>
    /// <summary>
    /// A connection a <see cref="WsxServer"/> accepted: a <see cref="WebSocket"/> like ASP.NET's
    /// server-side one (<c>HttpContext.WebSockets.AcceptWebSocketAsync()</c>). Get it from
    /// <see cref="WsxServer.ClientConnected"/> and read it with ReceiveAsync, or let
    /// <see cref="WsxServer.MessageReceived"/> deliver its messages.
    /// </summary>
    public sealed class WsxServerConnection : WsxConnection
    {
        readonly WsxServer server;
        /// <summary>The native id (<c>wsx_conn_id</c>), known from the open on; set and read on the loop thread.</summary>
        ulong id;
        int endRaised;
        PeerIdentity peer = PeerIdentity.None;

        internal WsxServerConnection(WsxServer server)
        {
            this.server = server;
            InlineCompletions = server.InlineCompletions;
        }

        /// <summary>
        /// Mutual TLS (<see cref="WsxServerOptions.ClientCaFile"/>): the subject of the client's
        /// verified certificate, RFC 4514 text (<c>CN=alice,O=Example</c>), or null when it sent
        /// none (or without TLS); known from the open on (<c>wsx_conn_peer_identity</c>).
        /// </summary>
        public string PeerSubject
        {
            get { return Volatile.Read(ref peer).Subject; }
        }

        /// <summary>Mutual TLS: the client's certificate chain as sent, leaf first (empty when none).</summary>
        public IReadOnlyList<X509Certificate2> PeerCertificates
        {
            get { return Volatile.Read(ref peer).Certificates; }
        }

        /// <summary>The server that accepted this connection.</summary>
        public WsxServer Server
        {
            get { return server; }
        }

        internal override EventDispatcher Events
        {
            get { return server.Events; }
        }

        internal override bool WantsEvents
        {
            get { return server.HasMessageHandlers || base.WantsEvents; }
        }

        internal override void RaiseMessage(WsxMessage message)
        {
            base.RaiseMessage(message);
            server.RaiseMessage(this, message);
        }

        internal override void HandleOpen(IntPtr conn, OpenEvent open)
        {
            id = NativeMethods.wsx_conn_id(conn);
            Volatile.Write(ref peer, PeerIdentity.Of(conn));
            if (!server.Track(id, this))
            {
                // Opened as the server was disposed: its drain closes it.
                Release(abortTransport: false);
                return;
            }
            base.HandleOpen(conn, open);
            server.RaiseConnected(this);
        }

        internal override void HandleError(WebSocketException error)
        {
            base.HandleError(error);
            server.RaiseError(this, error);
        }

        internal override bool HandleClose(WebSocketCloseStatus status, string description, bool clean)
        {
            server.Untrack(id);
            var raise = base.HandleClose(status, description, clean);
            // With message events, ClientDisconnected follows the last message (raised when delivery ends).
            if (raise && !WantsEvents && Interlocked.Exchange(ref endRaised, 1) == 0)
                server.RaiseDisconnected(this, status, description, clean);
            return raise;
        }

        internal override void RaiseEnded(WsxMessage end, WebSocketException error)
        {
            if (Interlocked.Exchange(ref endRaised, 1) != 0)
                return;
            var status = end != null ? end.CloseStatus.Value : (WebSocketCloseStatus)1006;
            var description = end != null ? end.CloseStatusDescription : error == null ? "" : error.Message;
            server.RaiseDisconnected(this, status, description, CloseWasClean ?? false);
        }
    }
}
