using System;
using System.Collections.Generic;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx
{
    /// <summary>
    /// One WebSocket connection: a <see cref="WsxClient"/>, or a client connected to a
    /// <see cref="WsxServer"/>. <see cref="SendAsync(ArraySegment{byte}, WebSocketMessageType, CancellationToken)"/>,
    /// <see cref="CloseAsync"/> and <see cref="Dispose"/> may be called from any thread, at the same time.
    /// </summary>
    /// <remarks>
    /// While the connection runs, the native library holds a handle to this object, so an open
    /// connection lives (and raises its events) until it closes even if nothing else references it.
    /// Once it has closed, an undisposed connection is cleaned up by the garbage collector.
    /// </remarks>
    public abstract class WsxConnection : IDisposable
    {
        /// <summary>Guards the state below; never held while user code or a blocking native call runs.</summary>
        internal readonly object Gate = new object();
        readonly TaskCompletionSource<bool> closed = Tasks.New<bool>();
        readonly List<TaskCompletionSource<bool>> writableWaiters = new List<TaskCompletionSource<bool>>();
        readonly SemaphoreSlim sendLane = new SemaphoreSlim(1, 1);
        int blockedSenders;
        ConnHandle handle;
        WebSocketState state = WebSocketState.None;
        string subProtocol;
        WebSocketCloseStatus? closeStatus;
        string closeStatusDescription;
        bool disposed;
        bool reconnecting;
        OpenEvent handshake;

        internal WsxConnection()
        {
        }

        /// <summary>
        /// None before connecting, Connecting, Open, CloseSent once <see cref="CloseAsync"/> began,
        /// Closed after a clean close handshake, Aborted after an unclean end or <see cref="Dispose"/>.
        /// </summary>
        public WebSocketState State
        {
            get { lock (Gate) return state; }
        }

        /// <summary>The subprotocol the handshake agreed on, or null.</summary>
        public string SubProtocol
        {
            get { lock (Gate) return subProtocol; }
        }

        /// <summary>The peer's address, "ip:port" ("[ip]:port" for IPv6; a client's proxy when it used one), once open; else null.</summary>
        public string RemoteAddress
        {
            get { lock (Gate) return handshake == null ? null : handshake.PeerAddress; }
        }

        /// <summary>
        /// On a connection a <see cref="WsxServer"/> accepted: the target of its handshake request
        /// (path and query, such as <c>/room/lobby</c>). Null on a <see cref="WsxClient"/>.
        /// </summary>
        public string RequestPath
        {
            get { lock (Gate) return handshake == null ? null : handshake.Path; }
        }

        /// <summary>
        /// On a connection a <see cref="WsxServer"/> accepted: the headers of its handshake request
        /// by name (case-insensitive). Null on a <see cref="WsxClient"/> (see <see cref="WsxClient.HttpResponseHeaders"/>).
        /// </summary>
        public IReadOnlyDictionary<string, IEnumerable<string>> RequestHeaders
        {
            get { lock (Gate) return handshake == null || this is WsxClient ? null : handshake.Headers; }
        }

        /// <summary>The last handshake's open event, or null before the first open.</summary>
        internal OpenEvent Handshake
        {
            get { lock (Gate) return handshake; }
        }

        /// <summary>
        /// Once closed: the peer's close code, ours if we failed the connection, or 1006 when the
        /// transport dropped without a close handshake. Null while open.
        /// </summary>
        public WebSocketCloseStatus? CloseStatus
        {
            get { lock (Gate) return closeStatus; }
        }

        /// <summary>Once closed: the reason that came with <see cref="CloseStatus"/>. Null while open.</summary>
        public string CloseStatusDescription
        {
            get { lock (Gate) return closeStatusDescription; }
        }

        /// <summary>Raised when something fails: a native error (a <see cref="WsxException"/>) or an exception thrown by an event handler.</summary>
        public event EventHandler<WsxErrorEventArgs> Error;

        internal abstract EventDispatcher Events { get; }

        /// <summary>
        /// Sends a text or binary message. The bytes are copied before the task completes; it
        /// completes once the message is queued, or, when the send queue is past its high-water
        /// mark, once it has drained enough to take it (keep the array unchanged until then).
        /// Several threads may send at once; messages go out in the order the calls began.
        /// </summary>
        /// <exception cref="WsxException">
        /// The connection is closing or closed (<see cref="WsxResult.Closed"/>), a reconnecting client is
        /// between connections (<see cref="WsxResult.NotConnected"/>), or the text is not UTF-8.
        /// </exception>
        public Task SendAsync(ArraySegment<byte> data, WebSocketMessageType messageType, CancellationToken cancellationToken)
        {
            return SendAsync(data, messageType, WsxSendFlags.None, cancellationToken);
        }

        /// <summary>
        /// Sends a text or binary message with <paramref name="flags"/>, such as
        /// <see cref="WsxSendFlags.DisableCompression"/> for data that is compressed already.
        /// Otherwise the same as the overload without flags.
        /// </summary>
        /// <exception cref="WsxException">
        /// The connection is closing or closed (<see cref="WsxResult.Closed"/>), a reconnecting client is
        /// between connections (<see cref="WsxResult.NotConnected"/>), or the text is not UTF-8.
        /// </exception>
        public async Task SendAsync(ArraySegment<byte> data, WebSocketMessageType messageType, WsxSendFlags flags, CancellationToken cancellationToken)
        {
            if (data.Array == null)
                throw new ArgumentNullException(nameof(data));
            var kind = Native.MessageKind(messageType, nameof(messageType));
            cancellationToken.ThrowIfCancellationRequested();
            if (Volatile.Read(ref blockedSenders) == 0)
            {
                var result = TrySend(kind, data, flags);
                if (result == WsxResult.Ok)
                    return;
                if (result != WsxResult.WouldBlock)
                    throw Native.Failure(result);
            }
            // Past the high-water mark, or behind senders that are: wait in line, so that
            // messages go out in the order their SendAsync calls began.
            Interlocked.Increment(ref blockedSenders);
            try
            {
                await sendLane.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    await SendWhenWritable(kind, data, flags, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    sendLane.Release();
                }
            }
            finally
            {
                Interlocked.Decrement(ref blockedSenders);
            }
        }

        /// <summary>Tries to send, waiting for the writable callback after every would-block.</summary>
        async Task SendWhenWritable(uint kind, ArraySegment<byte> data, WsxSendFlags flags, CancellationToken cancellationToken)
        {
            while (true)
            {
                // Registered before trying, so a drain between the try and the wait is not missed.
                var writable = Tasks.New<bool>();
                lock (Gate)
                    writableWaiters.Add(writable);
                var result = TrySend(kind, data, flags);
                if (result != WsxResult.WouldBlock)
                {
                    lock (Gate)
                        writableWaiters.Remove(writable);
                    if (result == WsxResult.Ok)
                        return;
                    throw Native.Failure(result);
                }
                using (cancellationToken.Register(() => writable.TrySetCanceled()))
                    await writable.Task.ConfigureAwait(false);
            }
        }

        /// <summary>Sends a text message (see the binary overload).</summary>
        public Task SendAsync(string text, CancellationToken cancellationToken)
        {
            return SendAsync(text, WsxSendFlags.None, cancellationToken);
        }

        /// <summary>Sends a text message with <paramref name="flags"/> (see the binary overload).</summary>
        public Task SendAsync(string text, WsxSendFlags flags, CancellationToken cancellationToken)
        {
            if (text == null)
                throw new ArgumentNullException(nameof(text));
            return SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes(text)), WebSocketMessageType.Text, flags, cancellationToken);
        }

        /// <summary>
        /// Subscribes this connection to <paramref name="topic"/>: every message
        /// <see cref="WsxServer.Publish(string, string, WsxConnection)"/> sends to the topic from now on reaches it.
        /// Any number of topics per connection; subscribing twice is harmless; closing leaves them all.
        /// Only for connections a <see cref="WsxServer"/> accepted. Callable from any thread.
        /// </summary>
        /// <exception cref="InvalidOperationException">A <see cref="WsxClient"/>, or a connection not open yet.</exception>
        /// <exception cref="WsxException">The connection is closing or closed (<see cref="WsxResult.Closed"/>).</exception>
        public void Subscribe(string topic)
        {
            Native.Check(NativeMethods.wsx_conn_subscribe(SubscriberHandle(), Topic(topic)));
        }

        /// <summary>Unsubscribes this connection from <paramref name="topic"/>; returns whether it was subscribed.</summary>
        /// <exception cref="InvalidOperationException">A <see cref="WsxClient"/>, or a connection not open yet.</exception>
        public bool Unsubscribe(string topic)
        {
            bool wasSubscribed;
            Native.Check(NativeMethods.wsx_conn_unsubscribe(SubscriberHandle(), Topic(topic), out wasSubscribed));
            return wasSubscribed;
        }

        /// <summary>A topic as the library takes it: UTF-8, not null.</summary>
        internal static byte[] Topic(string topic)
        {
            if (topic == null)
                throw new ArgumentNullException(nameof(topic));
            return Native.Utf8(topic);
        }

        ConnHandle SubscriberHandle()
        {
            if (!(this is ServerConnection))
                throw new InvalidOperationException("only connections a WsxServer accepted subscribe to topics");
            return OpenHandle();
        }

        /// <summary>The native handle, or null before the open or after <see cref="Dispose"/>.</summary>
        internal ConnHandle HandleOrNull()
        {
            lock (Gate)
                return disposed ? null : handle;
        }

        /// <summary>The native handle of an opened connection (the caller's SafeHandle keeps it alive across the call).</summary>
        internal ConnHandle OpenHandle()
        {
            lock (Gate)
            {
                ThrowIfDisposed();
                if (handle == null)
                    throw new InvalidOperationException("the connection is not open yet");
                return handle;
            }
        }

        /// <summary>
        /// Starts the close handshake with a code (1000-1003, 1007-1011, or 3000-4999) and a
        /// description of at most 123 UTF-8 bytes, and completes when the connection is closed
        /// (the peer answered, or the close timeout passed). Closing a closed connection does nothing.
        /// Cancelling stops the wait, not the close.
        /// </summary>
        public async Task CloseAsync(WebSocketCloseStatus closeStatus, string statusDescription, CancellationToken cancellationToken)
        {
            if ((int)closeStatus < 0 || (int)closeStatus > ushort.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(closeStatus), closeStatus, "a close code is 1000-4999");
            ConnHandle conn;
            lock (Gate)
            {
                ThrowIfDisposed();
                if (!HasStarted)
                    throw new InvalidOperationException("the connection is not open yet");
                conn = handle;
            }
            if (!closed.Task.IsCompleted)
            {
                var result = NativeMethods.wsx_conn_close(conn, (ushort)closeStatus, Native.Utf8(statusDescription ?? ""));
                if (result == WsxResult.Ok)
                {
                    lock (Gate)
                    {
                        if (state == WebSocketState.Open)
                            state = WebSocketState.CloseSent;
                    }
                }
                else if (result != WsxResult.Closed)
                {
                    throw Native.Failure(result);
                }
            }
            await Tasks.WithCancellation(closed.Task, cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Closes the connection (1001, going away) if it is open, without waiting, and releases the
        /// native handle. Pending operations fail with <see cref="ObjectDisposedException"/>; no
        /// event is raised afterwards. Safe to call more than once and from any thread.
        /// </summary>
        public void Dispose()
        {
            ConnHandle conn;
            bool open;
            lock (Gate)
            {
                if (disposed)
                    return;
                disposed = true;
                conn = handle;
                open = state != WebSocketState.Closed && state != WebSocketState.Aborted;
                if (state != WebSocketState.Closed)
                    state = WebSocketState.Aborted;
            }
            // Fail what waits first: the close callback may race the native calls below.
            var error = new ObjectDisposedException(GetType().Name);
            closed.TrySetException(error);
            ReleaseWritableWaiters(error);
            OnDisposed(error);
            if (conn != null)
            {
                if (open)
                    NativeMethods.wsx_conn_close(conn, (ushort)WebSocketCloseStatus.EndpointUnavailable, null);
                conn.Dispose();
            }
        }

        /// <summary>Fails the subclass's pending operations after <see cref="Dispose"/>.</summary>
        internal abstract void OnDisposed(ObjectDisposedException error);

        internal bool IsDisposed
        {
            get { lock (Gate) return disposed; }
        }

        internal void ThrowIfDisposed()
        {
            if (disposed)
                throw new ObjectDisposedException(GetType().Name);
        }

        /// <summary>
        /// Whether the connection opened once (or ended): false before the first open, true also
        /// while a reconnecting client is between connections. Call under <see cref="Gate"/>.
        /// </summary>
        internal bool HasStarted
        {
            get { return reconnecting || (state != WebSocketState.None && state != WebSocketState.Connecting); }
        }

        /// <summary>A reconnecting client lost its connection and tries again: Connecting until the next open.</summary>
        internal void MarkReconnecting()
        {
            lock (Gate)
            {
                reconnecting = true;
                if (state == WebSocketState.Open)
                    state = WebSocketState.Connecting;
            }
        }

        /// <summary>Moves from None to Connecting (a client's ConnectAsync); false if it already left None.</summary>
        internal bool BeginConnecting()
        {
            lock (Gate)
            {
                ThrowIfDisposed();
                if (state != WebSocketState.None)
                    return false;
                state = WebSocketState.Connecting;
                return true;
            }
        }

        /// <summary>
        /// Adopts a reference to the native connection. The first one wins (the connect call and
        /// the first callback race); a later one, or one arriving after Dispose, is released at once.
        /// </summary>
        internal void Attach(ConnHandle conn)
        {
            bool adopted, disposedMeanwhile;
            lock (Gate)
            {
                disposedMeanwhile = disposed;
                adopted = !disposed && handle == null;
                if (adopted)
                    handle = conn;
            }
            if (adopted)
                return;
            if (disposedMeanwhile)
                NativeMethods.wsx_conn_close(conn, (ushort)WebSocketCloseStatus.EndpointUnavailable, null);
            conn.Dispose();
        }

        /// <summary>Starts the close handshake without waiting (from the loop thread); a closed connection ignores it.</summary>
        internal void StartClose(WebSocketCloseStatus code, string reason)
        {
            ConnHandle conn;
            lock (Gate)
            {
                conn = disposed ? null : handle;
                if (state == WebSocketState.Open)
                    state = WebSocketState.CloseSent;
            }
            if (conn != null)
                NativeMethods.wsx_conn_close(conn, (ushort)code, Native.Utf8(reason));
        }

        WsxResult TrySend(uint kind, ArraySegment<byte> data, WsxSendFlags flags)
        {
            return Native.Send(OpenHandle(), kind, data, flags);
        }

        void ReleaseWritableWaiters(Exception error)
        {
            TaskCompletionSource<bool>[] waiters;
            lock (Gate)
            {
                waiters = writableWaiters.ToArray();
                writableWaiters.Clear();
            }
            foreach (var waiter in waiters)
            {
                if (error == null)
                    waiter.TrySetResult(true);
                else
                    waiter.TrySetException(error);
            }
        }

        // The native callbacks, on the loop thread. None lets an exception escape: the
        // trampolines catch, and event handlers run inside the dispatcher's guard.

        internal virtual void HandleOpen(IntPtr conn, OpenEvent open)
        {
            bool attached;
            lock (Gate)
                attached = handle != null;
            if (!attached)
                Attach(ConnHandle.Retain(conn));
            lock (Gate)
            {
                if (state == WebSocketState.Connecting || state == WebSocketState.None)
                    state = WebSocketState.Open;
                reconnecting = false;
                subProtocol = open.SubProtocol;
                handshake = open;
            }
        }

        internal abstract void HandleMessage(WsxMessage message);

        internal void HandleWritable()
        {
            ReleaseWritableWaiters(null);
        }

        internal virtual void HandleError(WsxException error)
        {
            RaiseError(error);
        }

        /// <summary>Records the end; returns false after <see cref="Dispose"/> (no more events then).</summary>
        internal virtual bool HandleClose(WebSocketCloseStatus status, string description, bool clean)
        {
            bool raise;
            lock (Gate)
            {
                raise = !disposed;
                if (!disposed)
                    state = clean ? WebSocketState.Closed : WebSocketState.Aborted;
                closeStatus = status;
                closeStatusDescription = description;
            }
            closed.TrySetResult(true);
            // Waiting senders retry and get WSX_ERR_CLOSED.
            ReleaseWritableWaiters(null);
            return raise;
        }

        /// <summary>Raises <see cref="Error"/> for this connection.</summary>
        internal void RaiseError(Exception error)
        {
            if (IsDisposed)
                return;
            Events.RaiseError(() =>
            {
                var handler = Error;
                if (handler != null)
                    handler(this, new WsxErrorEventArgs(this, error));
            });
        }
    }
}
