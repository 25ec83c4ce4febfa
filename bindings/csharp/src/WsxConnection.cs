using System;
using System.Collections.Generic;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx
{
    /// <summary>
    /// One WebSocket connection, a <see cref="System.Net.WebSockets.WebSocket"/>: a
    /// <see cref="WsxClient"/>, or a <see cref="WsxServerConnection"/> that a <see cref="WsxServer"/>
    /// accepted. Code written against <see cref="WebSocket"/> (for <c>ClientWebSocket</c> or for
    /// ASP.NET's server side) runs on it unchanged.
    /// </summary>
    /// <remarks>
    /// The binding keeps no receive queue, state machine, validation or defaults of its own: received
    /// messages wait in the native library's per-connection inbox (pull mode, with its backpressure)
    /// until <see cref="ReceiveAsync(ArraySegment{byte}, CancellationToken)"/> copies them out;
    /// <see cref="State"/>, <see cref="CloseStatus"/> and <see cref="CloseStatusDescription"/> are read
    /// from the library (<c>wsx_conn_state</c>, <c>wsx_conn_close_info</c>).
    /// <para>
    /// Messages reach the application one way per connection: <see cref="ReceiveAsync(ArraySegment{byte}, CancellationToken)"/>
    /// (pull) or the <see cref="MessageReceived"/> event (a loop over ReceiveAsync that the binding
    /// runs). Whichever is used first wins; the other then throws <see cref="InvalidOperationException"/>,
    /// so a handler never leaves a ReceiveAsync waiting forever.
    /// </para>
    /// </remarks>
    public abstract class WsxConnection : WebSocket
    {
        const int ModeUndecided = 0, ModePull = 1, ModeEvents = 2;

        /// <summary>Guards the fields below; never held while user code or a blocking native call runs.</summary>
        internal readonly object Gate = new object();
        readonly TaskCompletionSource<bool> closed = Tasks.New<bool>();
        readonly List<TaskCompletionSource<bool>> writableWaiters = new List<TaskCompletionSource<bool>>();
        readonly SemaphoreSlim sendLane = new SemaphoreSlim(1, 1);
        int blockedSenders;
        ConnHandle handle;
        bool connectStarted;
        bool disposed;
        bool aborted;
        bool closeRequested;
        int mode;
        bool receiving;
        bool pumping;
        /// <summary>The event delivery waits for the library's readable event (only HandleReadable wakes it, and clears this).</summary>
        bool pumpWaiting;
        Task pump = Task.CompletedTask;
        /// <summary>The connection whose event delivery runs a handler on this thread (null: none).</summary>
        [ThreadStatic]
        static WsxConnection deliveringFor;
        /// <summary>How many readable events the library raised, wrapping (a receive waits for the count to move).</summary>
        int readableEvents;
        /// <summary>
        /// The receive parked until the next readable event (null: none), which HandleReadable wakes
        /// (see <see cref="Wake"/>): the task a receive awaits, or a <see cref="ReceiveOperation"/>.
        /// </summary>
        object readable;
        /// <summary><see cref="WsxConnectionOptions.InlineCompletions"/>, set before the first callback can come.</summary>
        internal bool InlineCompletions;
        OpenEvent handshake;
        WebSocketException failure;
        // SendAsync with endOfMessage false opened a message whose last piece is not sent yet: the
        // next piece goes through wsx_conn_send_fragment too (the library checks the rules).
        bool fragmentOpen;
        EventHandler<WsxMessageEventArgs> messageReceived;

        internal WsxConnection()
        {
        }

        // ------------------------------------------------------------------ state, read from the library

        /// <summary>
        /// The library's state of the connection (<c>wsx_conn_state</c>): None before
        /// <see cref="WsxClient.ConnectAsync"/>, Connecting, Open, CloseSent (we started the close
        /// handshake) or CloseReceived (the peer did), Closed after a clean close, Aborted after an
        /// unclean end, <see cref="Abort"/> or <see cref="Dispose"/>.
        /// </summary>
        public override WebSocketState State
        {
            get
            {
                ConnHandle conn;
                bool requested;
                lock (Gate)
                {
                    if (aborted || disposed)
                        return WebSocketState.Aborted;
                    if (handle == null)
                        return connectStarted ? WebSocketState.Connecting : WebSocketState.None;
                    conn = handle;
                    requested = closeRequested;
                }
                switch (Native.State(conn))
                {
                    case NativeState.Connecting:
                        return WebSocketState.Connecting;
                    case NativeState.Open:
                        return WebSocketState.Open;
                    case NativeState.Closing:
                        return requested ? WebSocketState.CloseSent : WebSocketState.CloseReceived;
                    default:
                        var info = Native.CloseInfoOf(conn);
                        return info != null && !info.Clean ? WebSocketState.Aborted : WebSocketState.Closed;
                }
            }
        }

        /// <summary>The close code of the ended connection (<c>wsx_conn_close_info</c>): the peer's, ours if we failed it, 1006 for a drop; null before.</summary>
        public override WebSocketCloseStatus? CloseStatus
        {
            get
            {
                var info = CloseInfo();
                return info == null ? (WebSocketCloseStatus?)null : (WebSocketCloseStatus)info.Code;
            }
        }

        /// <summary>The reason that came with <see cref="CloseStatus"/>; null before the end.</summary>
        public override string CloseStatusDescription
        {
            get
            {
                var info = CloseInfo();
                return info == null ? null : info.Reason;
            }
        }

        /// <summary>The subprotocol the handshake agreed on, or null.</summary>
        public override string SubProtocol
        {
            get { lock (Gate) return handshake == null ? null : handshake.SubProtocol; }
        }

        /// <summary>Whether the close handshake finished cleanly; null while the connection runs.</summary>
        public bool? CloseWasClean
        {
            get
            {
                var info = CloseInfo();
                return info == null ? (bool?)null : info.Clean;
            }
        }

        NativeCloseInfo CloseInfo()
        {
            var conn = HandleOrNull();
            return conn == null ? null : Native.CloseInfoOf(conn);
        }

        /// <summary>
        /// The peer's address, "ip:port" ("[ip]:port" for IPv6; a client's proxy when it used one), once
        /// open; else null. Over a Unix domain socket, which has no IP address, <c>"unix:"</c> and the
        /// socket's path: a client sees the server's, a server sees <c>"unix:"</c> alone.
        /// </summary>
        public string RemoteAddress
        {
            get
            {
                var conn = HandleOrNull();
                return conn == null ? null : Native.PeerAddress(conn);
            }
        }

        /// <summary>Bytes queued for sending and not yet written to the socket (<c>wsx_conn_buffered_amount</c>).</summary>
        public long BufferedAmount
        {
            get
            {
                var conn = HandleOrNull();
                return conn == null ? 0 : (long)(ulong)NativeMethods.wsx_conn_buffered_amount(conn);
            }
        }

        /// <summary>Received messages waiting in the library's inbox for ReceiveAsync (<c>wsx_conn_inbox_len</c>).</summary>
        public long ReceiveQueueLength
        {
            get
            {
                var conn = HandleOrNull();
                return conn == null ? 0 : (long)(ulong)NativeMethods.wsx_conn_inbox_len(conn);
            }
        }

        /// <summary>The round trip of the last answered ping (ours or the keepalive's), or null if none yet.</summary>
        public TimeSpan? RoundTripTime
        {
            get
            {
                var conn = HandleOrNull();
                if (conn == null)
                    return null;
                long us = NativeMethods.wsx_conn_rtt_us(conn);
                return us < 0 ? (TimeSpan?)null : TimeSpan.FromTicks(us * 10);
            }
        }

        /// <summary>A number naming this connection within the library (<c>wsx_conn_id</c>), 0 before the open.</summary>
        public ulong Id
        {
            get
            {
                var conn = HandleOrNull();
                if (conn == null)
                    return 0;
                bool added = false;
                try
                {
                    conn.DangerousAddRef(ref added);
                    return NativeMethods.wsx_conn_id(conn.DangerousGetHandle());
                }
                catch (ObjectDisposedException)
                {
                    return 0;
                }
                finally
                {
                    if (added)
                        conn.DangerousRelease();
                }
            }
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
        /// On a connection a <see cref="WsxServer"/> accepted: the headers of its handshake request by
        /// name (case-insensitive). Null on a <see cref="WsxClient"/> (see <see cref="WsxClient.HttpResponseHeaders"/>).
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

        // ------------------------------------------------------------------ events (a convenience on top)

        /// <summary>
        /// Raised for every whole message, in order, when the binding reads the connection for you
        /// (a loop over ReceiveAsync; the next message is read once the handler returned). Attaching
        /// a handler picks event delivery for this connection: ReceiveAsync then throws
        /// <see cref="InvalidOperationException"/>; attaching one while ReceiveAsync is used throws.
        /// </summary>
        public event EventHandler<WsxMessageEventArgs> MessageReceived
        {
            add
            {
                if (value == null)
                    return;
                bool start;
                lock (Gate)
                {
                    if (mode == ModePull)
                        throw new InvalidOperationException("this connection's messages are read with ReceiveAsync: a MessageReceived handler would never see them");
                    mode = ModeEvents;
                    messageReceived += value;
                    start = handle != null;
                }
                if (start)
                    StartPump();
            }
            remove
            {
                lock (Gate)
                    messageReceived -= value;
            }
        }

        /// <summary>Raised when something fails: a native error (a <see cref="WsxException"/>) or an exception thrown by an event handler.</summary>
        public event EventHandler<WsxErrorEventArgs> Error;

        internal abstract EventDispatcher Events { get; }

        /// <summary>Whether a connection-level or server-level handler asks for event delivery.</summary>
        internal virtual bool WantsEvents
        {
            get { lock (Gate) return mode == ModeEvents; }
        }

        internal virtual void RaiseMessage(WsxMessage message)
        {
            EventHandler<WsxMessageEventArgs> handler;
            lock (Gate)
                handler = messageReceived;
            if (handler != null)
                handler(this, new WsxMessageEventArgs(this, message));
        }

        /// <summary>Event delivery ended (the Close message or the failure that ended the connection).</summary>
        internal virtual void RaiseEnded(WsxMessage end, WebSocketException error)
        {
        }

        // ------------------------------------------------------------------ receiving

        /// <summary>
        /// Copies the next message, or its next part, into <paramref name="buffer"/>:
        /// <see cref="WebSocketReceiveResult.EndOfMessage"/> is false while more of the message
        /// remains (call again for the rest). Once the peer's close arrived and every message was
        /// read, returns a result of type <see cref="WebSocketMessageType.Close"/> with its status
        /// (every time it is called). A connection that ended without a close handshake throws the
        /// <see cref="WsxException"/> (a <see cref="WebSocketException"/>) that ended it.
        /// One ReceiveAsync at a time; cancelling stops the wait only: the next message stays for
        /// the next call.
        /// </summary>
        /// <exception cref="InvalidOperationException">Not connected yet, another ReceiveAsync is pending, or messages go to <see cref="MessageReceived"/>.</exception>
        public override Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken)
        {
            if (buffer.Array == null)
                throw new ArgumentNullException(nameof(buffer));
            BeginReceive(false);
            // Without a token to watch (the common case), no async method: the receive parks
            // itself and the readable event completes it.
            if (!cancellationToken.CanBeCanceled)
                return new ReceiveOperation(this, buffer).Start();
            return ReceiveLoop(buffer, cancellationToken);
        }

        /// <summary>
        /// A receive without a cancellation token: tries at once and, while nothing is there,
        /// parks itself for the readable event, which tries again on the loop thread. Its task
        /// completes as <see cref="ReceiveLoop"/>'s would, with one task per receive instead of an
        /// async method awaiting a second one (with InlineCompletions, the awaiting code runs right
        /// there, as the C client's callback does).
        /// </summary>
        sealed class ReceiveOperation
        {
            readonly WsxConnection owner;
            readonly ArraySegment<byte> buffer;
            readonly TaskCompletionSource<WebSocketReceiveResult> done;

            internal ReceiveOperation(WsxConnection owner, ArraySegment<byte> buffer)
            {
                this.owner = owner;
                this.buffer = buffer;
                done = owner.InlineCompletions ? new TaskCompletionSource<WebSocketReceiveResult>() : Tasks.New<WebSocketReceiveResult>();
            }

            internal Task<WebSocketReceiveResult> Start()
            {
                Step();
                return done.Task;
            }

            /// <summary>Tries to receive: completes the task, or parks this operation again.</summary>
            internal void Step()
            {
                WebSocketReceiveResult result;
                try
                {
                    while (true)
                    {
                        int seen;
                        WsxResult tried;
                        result = owner.TryReceive(buffer, CancellationToken.None, out seen, out tried);
                        if (result != null)
                            break;
                        if (owner.Park(this, tried, seen, false))
                            return;
                    }
                }
                catch (Exception e)
                {
                    owner.EndReceive();
                    done.TrySetException(e);
                    return;
                }
                owner.EndReceive();
                done.TrySetResult(result);
            }
        }

        /// <summary>Checks that a receive may start now and marks one under way (one at a time).</summary>
        void BeginReceive(bool pump)
        {
            lock (Gate)
            {
                ThrowIfDisposed();
                if (handle == null)
                    throw new InvalidOperationException("the WebSocket is not connected yet");
                if (mode == ModeEvents && !pump)
                    throw new InvalidOperationException("this connection's messages go to the MessageReceived event: ReceiveAsync is not available");
                if (mode == ModeUndecided)
                    mode = ModePull;
                if (receiving)
                    throw new InvalidOperationException("another ReceiveAsync is pending on this WebSocket: one at a time");
                receiving = true;
            }
        }

        void EndReceive()
        {
            lock (Gate)
                receiving = false;
        }

        async Task<WebSocketReceiveResult> ReceiveLoop(ArraySegment<byte> buffer, CancellationToken cancellationToken)
        {
            try
            {
                while (true)
                {
                    int seen;
                    WsxResult tried;
                    var result = TryReceive(buffer, cancellationToken, out seen, out tried);
                    if (result != null)
                        return result;
                    await WaitReadable(tried, seen, cancellationToken, false).ConfigureAwait(false);
                }
            }
            finally
            {
                EndReceive();
            }
        }

        /// <summary>
        /// One try of a receive into <paramref name="buffer"/>: the result (a message's part, or the
        /// end), or null when nothing is there yet (<paramref name="tried"/> says why, and
        /// <paramref name="seen"/> is the readable count to wait past).
        /// </summary>
        WebSocketReceiveResult TryReceive(ArraySegment<byte> buffer, CancellationToken cancellationToken, out int seen, out WsxResult tried)
        {
            var conn = BeginAttempt(cancellationToken, out seen);
            NativeReceived received;
            tried = Attempt(conn, buffer, out received);
            if (tried == WsxResult.Ok)
                return new WebSocketReceiveResult(received.Count, received.Type, received.EndOfMessage);
            if (tried == WsxResult.Closed)
                return Ended(conn);
            return null;
        }

        /// <summary>
        /// Before trying to receive: the handle, and the count of readable events to wait past if
        /// nothing is there (read before trying, so an event between the try and the wait is not missed).
        /// </summary>
        ConnHandle BeginAttempt(CancellationToken cancellationToken, out int seen)
        {
            cancellationToken.ThrowIfCancellationRequested();
            lock (Gate)
            {
                if (disposed || aborted)
                    throw AbortedError();
                seen = readableEvents;
                return handle;
            }
        }

        /// <summary>One <c>wsx_conn_recv</c> into <paramref name="buffer"/> (empty: the next message's kind and size).</summary>
        WsxResult Attempt(ConnHandle conn, ArraySegment<byte> buffer, out NativeReceived received)
        {
            try
            {
                return Native.Receive(conn, buffer, out received);
            }
            catch (ObjectDisposedException)
            {
                // Disposed between BeginAttempt and the call: as if it came first.
                throw AbortedError();
            }
        }

        /// <summary>
        /// After an attempt that found nothing (<paramref name="result"/>): waits for the library's
        /// readable event.
        /// </summary>
        Task WaitReadable(WsxResult result, int seen, CancellationToken cancellationToken, bool pump)
        {
            var wake = NewParking();
            if (!Park(wake, result, seen, pump))
                return Task.CompletedTask;
            return Tasks.WithCancellation(wake.Task, cancellationToken);
        }

        /// <summary>
        /// After an attempt that found nothing (<paramref name="result"/>): parks
        /// <paramref name="waiter"/> until the next readable event; false if one came since the
        /// attempt (then try again at once).
        /// </summary>
        bool Park(object waiter, WsxResult result, int seen, bool pump)
        {
            if (result != WsxResult.WouldBlock)
                throw Native.Failure(result);
            lock (Gate)
            {
                // Disposed meanwhile: the wake would never come (see FailWaiters).
                if (disposed)
                    throw AbortedError();
                if (readableEvents != seen)
                    return false;
                readable = waiter;
                pumpWaiting = pump;
                return true;
            }
        }

        /// <summary>Every message was read and the connection is over: the Close result, or the failure.</summary>
        WebSocketReceiveResult Ended(ConnHandle conn)
        {
            var info = Native.CloseInfoOf(conn);
            bool requested;
            lock (Gate)
                requested = closeRequested;
            // A close frame passed, or the application closed (a reconnecting client between
            // connections ends without one): a Close result. A drop nobody asked for: an exception.
            if (info != null && (info.Code != 1006 || requested))
                return new WebSocketReceiveResult(0, WebSocketMessageType.Close, true, (WebSocketCloseStatus)info.Code, info.Reason);
            lock (Gate)
            {
                if (aborted || disposed)
                    throw AbortedError();
                if (failure != null)
                    throw failure;
            }
            throw WsxException.Create(WsxResult.Io, "the connection ended without a close handshake (1006)");
        }

        WebSocketException AbortedError()
        {
            return WsxException.Create(WsxResult.Closed, "the WebSocket was aborted or disposed");
        }

        /// <summary>
        /// Reads a whole message (as <see cref="ReceiveAsync(ArraySegment{byte}, CancellationToken)"/> until
        /// EndOfMessage, into an array of the message's size). Once the connection is over, returns a message of type <see cref="WebSocketMessageType.Close"/>
        /// with the close status, or throws the <see cref="WsxException"/> that ended an unclean connection.
        /// Cancelling stops the wait only: the next message stays for the next call.
        /// </summary>
        public Task<WsxMessage> ReceiveAsync(CancellationToken cancellationToken)
        {
            return ReceiveMessage(cancellationToken, false);
        }

        /// <summary>
        /// The next whole message, read straight into an array of its size: the library's inbox holds
        /// messages whole, so an empty read tells the size and one more copies it all (no buffer in
        /// between, nothing allocated but the message).
        /// </summary>
        async Task<WsxMessage> ReceiveMessage(CancellationToken cancellationToken, bool pump)
        {
            BeginReceive(pump);
            try
            {
                while (true)
                {
                    int seen;
                    var conn = BeginAttempt(cancellationToken, out seen);
                    NativeReceived next;
                    var result = Attempt(conn, default(ArraySegment<byte>), out next);
                    if (result == WsxResult.Ok)
                        return TakeMessage(conn, next);
                    if (result == WsxResult.Closed)
                    {
                        var end = Ended(conn);
                        return new WsxMessage(end.CloseStatus.Value, end.CloseStatusDescription);
                    }
                    await WaitReadable(result, seen, cancellationToken, pump).ConfigureAwait(false);
                }
            }
            finally
            {
                EndReceive();
            }
        }

        /// <summary>The message whose kind and size <paramref name="next"/> told, copied out whole.</summary>
        WsxMessage TakeMessage(ConnHandle conn, NativeReceived next)
        {
            // An empty message was taken by the empty read itself.
            if (next.EndOfMessage)
                return new WsxMessage(next.Type, WsxMessage.Empty);
            var data = new byte[checked((int)next.Remaining)];
            NativeReceived rest;
            var result = Attempt(conn, new ArraySegment<byte>(data), out rest);
            // One receiver at a time, and the message waits whole: the rest is all there.
            if (result != WsxResult.Ok || rest.Count != data.Length)
                throw result == WsxResult.Ok ? WsxException.Create(WsxResult.State, "a message shrank while it was read") : Native.Failure(result);
            return new WsxMessage(next.Type, data);
        }

        /// <summary>Event delivery: reads whole messages and raises MessageReceived until the end.</summary>
        internal void StartPump()
        {
            lock (Gate)
            {
                if (pumping || handle == null)
                    return;
                pumping = true;
                pump = Task.Run(Pump);
            }
        }

        async Task Pump()
        {
            WsxMessage end = null;
            WebSocketException error = null;
            try
            {
                while (true)
                {
                    if (IsDisposed)
                        return;
                    var message = await ReceiveMessage(CancellationToken.None, true).ConfigureAwait(false);
                    if (message.MessageType == WebSocketMessageType.Close)
                    {
                        end = message;
                        break;
                    }
                    // The next message is read once this one was handled: the library's inbox holds the rest.
                    await DeliverMessage(message).ConfigureAwait(false);
                }
            }
            catch (WebSocketException e)
            {
                error = e;
            }
            catch (Exception e)
            {
                RaiseError(e);
                return;
            }
            if (!IsDisposed)
                await Deliver(() => RaiseEnded(end, error)).ConfigureAwait(false);
        }

        static readonly Action<WsxConnection, WsxMessage> RaiseMessageUnlessDisposed = (connection, message) =>
        {
            if (!connection.IsDisposed)
                connection.RaiseMessage(message);
        };

        /// <summary>
        /// Raises MessageReceived for <paramref name="message"/> where events belong; completes once
        /// it ran. Without a <see cref="SynchronizationContext"/>, at once on this thread, with
        /// nothing allocated for it.
        /// </summary>
        Task DeliverMessage(WsxMessage message)
        {
            if (Events.Posts)
                return Deliver(() => RaiseMessageUnlessDisposed(this, message));
            var outer = deliveringFor;
            deliveringFor = this;
            try
            {
                Events.Raise(RaiseMessageUnlessDisposed, this, message);
            }
            finally
            {
                deliveringFor = outer;
            }
            return Task.CompletedTask;
        }

        /// <summary>Raises one event of the delivery where events belong; completes once it ran.</summary>
        Task Deliver(Action raise)
        {
            var delivered = new TaskCompletionSource<bool>();
            Events.Raise(() =>
            {
                var outer = deliveringFor;
                deliveringFor = this;
                try
                {
                    raise();
                }
                finally
                {
                    deliveringFor = outer;
                    delivered.TrySetResult(true);
                }
            });
            return delivered.Task;
        }

        /// <summary>
        /// Waits until the event delivery ended, so that once Dispose returns nothing of this
        /// connection runs in the thread pool any more: a program may return from Main right after
        /// (Mono's shutdown aborts the pool's threads then, and one caught between two work items
        /// holds the exit up to a minute). Not from inside the delivery itself (a handler that
        /// disposes), not on the loop thread (a handler there that disposes: a delivery's handler
        /// may wait for the loop), nor when events are posted to a <see cref="SynchronizationContext"/>
        /// (the caller may be its thread, which the delivery waits for); at most
        /// <see cref="DeliveryJoinTimeout"/> (a handler that blocks).
        /// </summary>
        internal void JoinDelivery()
        {
            Task delivery;
            lock (Gate)
            {
                // A delivery waiting for the readable event is never woken after Dispose: it is over.
                if (pumpWaiting)
                    return;
                delivery = pump;
            }
            if (delivery.IsCompleted || deliveringFor == this || Events.Posts || NativeLoop.OnLoopThread)
                return;
            try
            {
                delivery.Wait(DeliveryJoinTimeout);
            }
            catch (AggregateException)
            {
                // A failed delivery went to the Error event already.
            }
        }

        /// <summary>How long <see cref="Dispose"/> waits for a running event handler to return.</summary>
        internal static readonly TimeSpan DeliveryJoinTimeout = TimeSpan.FromSeconds(1);

        // ------------------------------------------------------------------ sending

        /// <summary>
        /// Sends a message, or a piece of one with <paramref name="endOfMessage"/> false: each piece
        /// goes on the wire as a frame of its own (<c>wsx_conn_send_fragment</c>) and the peer
        /// receives one message once the last piece went. The library checks the pieces when they
        /// are sent: while a message is open, another type, or text that is not UTF-8 across the
        /// pieces (a character may be split between two), fails with a <see cref="WsxException"/>
        /// (<see cref="WsxResult.InvalidArgument"/>), and so does a whole message from another
        /// thread. Completes once the piece is queued in the library, or, past the send queue's
        /// high-water mark, once it drained enough to take it. Several threads may send at once:
        /// whole messages go out in the order the calls began.
        /// </summary>
        /// <exception cref="WsxException">The connection is closing or closed, a reconnecting client is between connections, the text is not UTF-8, or a piece breaks the rules above.</exception>
        public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
        {
            if (buffer.Array == null)
                throw new ArgumentNullException(nameof(buffer));
            var kind = Native.MessageKind(messageType, nameof(messageType));
            bool open;
            lock (Gate)
            {
                ThrowIfDisposed();
                open = fragmentOpen;
            }
            if (endOfMessage && !open)
                return SendAsync(buffer, messageType, WsxSendFlags.None, cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            return Send(() =>
            {
                var result = Native.SendFragment(OpenHandle(), kind, buffer, endOfMessage, WsxSendFlags.None);
                if (result == WsxResult.Ok)
                    lock (Gate)
                        fragmentOpen = !endOfMessage;
                return result;
            }, cancellationToken);
        }

        /// <summary>Sends a whole text or binary message (see the overload with endOfMessage).</summary>
        public Task SendAsync(ArraySegment<byte> data, WebSocketMessageType messageType, CancellationToken cancellationToken)
        {
            return SendAsync(data, messageType, true, cancellationToken);
        }

        /// <summary>
        /// Sends a whole text or binary message with <paramref name="flags"/>, such as
        /// <see cref="WsxSendFlags.DisableCompression"/> for data that is compressed already.
        /// </summary>
        public Task SendAsync(ArraySegment<byte> data, WebSocketMessageType messageType, WsxSendFlags flags, CancellationToken cancellationToken)
        {
            uint kind;
            try
            {
                if (data.Array == null)
                    throw new ArgumentNullException(nameof(data));
                kind = Native.MessageKind(messageType, nameof(messageType));
                cancellationToken.ThrowIfCancellationRequested();
                // The common case, queued at once: nothing allocated, no state machine.
                var done = Volatile.Read(ref blockedSenders) == 0 ? Tried(TrySend(kind, data, flags)) : null;
                if (done != null)
                    return done;
            }
            catch (Exception e)
            {
                // As an async method fails: in the task, not the call.
                return Tasks.Failed(e);
            }
            return SendLater(kind, data, flags, cancellationToken);
        }

        /// <summary>
        /// The send of <see cref="SendAsync(ArraySegment{byte}, WebSocketMessageType, WsxSendFlags, CancellationToken)"/>
        /// that waits its turn (a method of its own: its closure is allocated only here).
        /// </summary>
        Task SendLater(uint kind, ArraySegment<byte> data, WsxSendFlags flags, CancellationToken cancellationToken)
        {
            return SendWaiting(() => TrySend(kind, data, flags), cancellationToken);
        }

        /// <summary>
        /// The task of a send whose first try gave <paramref name="first"/>: finished when it went
        /// into the queue; null past the high-water mark (the send waits its turn); an error throws.
        /// </summary>
        static Task Tried(WsxResult first)
        {
            if (first == WsxResult.Ok)
                return Task.CompletedTask;
            if (first != WsxResult.WouldBlock)
                throw Native.Failure(first);
            return null;
        }

        /// <summary>
        /// Runs <paramref name="attempt"/> (one native send) now, or, past the high-water mark or
        /// behind senders that wait, in line once the library reports the queue writable.
        /// </summary>
        Task Send(Func<WsxResult> attempt, CancellationToken cancellationToken)
        {
            try
            {
                var done = Volatile.Read(ref blockedSenders) == 0 ? Tried(attempt()) : null;
                if (done != null)
                    return done;
            }
            catch (Exception e)
            {
                return Tasks.Failed(e);
            }
            return SendWaiting(attempt, cancellationToken);
        }

        /// <summary>
        /// <see cref="SendInLine"/>; on a loop thread, guarded (<see cref="LoopBound"/>): a blocking
        /// wait there for room that only the loop makes fails, and the send leaves the line.
        /// </summary>
        Task SendWaiting(Func<WsxResult> attempt, CancellationToken cancellationToken)
        {
            if (!NativeLoop.OnLoopThread)
                return SendInLine(attempt, cancellationToken);
            var abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            return LoopBound.Guard(SendInLine(attempt, abandon.Token), abandon, cancellationToken, "SendAsync waits for room in the send queue");
        }

        /// <summary>
        /// Past the high-water mark, or behind senders that are: waits in line for the library's
        /// writable event, so that messages go out in the order the calls began.
        /// </summary>
        async Task SendInLine(Func<WsxResult> attempt, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref blockedSenders);
            try
            {
                await sendLane.WaitAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    await SendWhenWritable(attempt, cancellationToken).ConfigureAwait(false);
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

        async Task SendWhenWritable(Func<WsxResult> attempt, CancellationToken cancellationToken)
        {
            while (true)
            {
                var writable = Tasks.New<bool>();
                lock (Gate)
                    writableWaiters.Add(writable);
                var result = attempt();
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

        /// <summary>Sends a text message.</summary>
        public Task SendAsync(string text, CancellationToken cancellationToken)
        {
            return SendAsync(text, WsxSendFlags.None, cancellationToken);
        }

        /// <summary>Sends a text message with <paramref name="flags"/>.</summary>
        public Task SendAsync(string text, WsxSendFlags flags, CancellationToken cancellationToken)
        {
            if (text == null)
                throw new ArgumentNullException(nameof(text));
            return SendAsync(new ArraySegment<byte>(Encoding.UTF8.GetBytes(text)), WebSocketMessageType.Text, flags, cancellationToken);
        }

        WsxResult TrySend(uint kind, ArraySegment<byte> data, WsxSendFlags flags)
        {
            return Native.Send(OpenHandle(), kind, data, flags);
        }

        /// <summary>Sends a ping with up to 125 bytes of payload; its round trip then shows in <see cref="RoundTripTime"/>.</summary>
        public unsafe void Ping(byte[] payload = null)
        {
            var conn = OpenHandle();
            fixed (byte* data = payload)
                Native.Check(NativeMethods.wsx_conn_ping(conn, data, (UIntPtr)(payload == null ? 0 : payload.Length)));
        }

        /// <summary>
        /// Flow control for input (<c>wsx_conn_set_reading_paused</c>): while paused, nothing is read
        /// from the socket, so the peer sees TCP backpressure (pings and its close wait too).
        /// </summary>
        public void SetReadingPaused(bool paused)
        {
            Native.Check(NativeMethods.wsx_conn_set_reading_paused(OpenHandle(), paused));
        }

        // ------------------------------------------------------------------ publish/subscribe

        /// <summary>
        /// Subscribes this connection to <paramref name="topic"/>: every message
        /// <see cref="WsxServer.Publish(string, string, WsxConnection)"/> sends to the topic from now on reaches it.
        /// Only for connections a <see cref="WsxServer"/> accepted.
        /// </summary>
        public void Subscribe(string topic)
        {
            Native.Check(NativeMethods.wsx_conn_subscribe(SubscriberHandle(), Topic(topic)));
        }

        /// <summary>Unsubscribes this connection from <paramref name="topic"/>; returns whether it was subscribed.</summary>
        public bool Unsubscribe(string topic)
        {
            bool wasSubscribed;
            Native.Check(NativeMethods.wsx_conn_unsubscribe(SubscriberHandle(), Topic(topic), out wasSubscribed));
            return wasSubscribed;
        }

        internal static byte[] Topic(string topic)
        {
            if (topic == null)
                throw new ArgumentNullException(nameof(topic));
            return Native.Utf8(topic);
        }

        ConnHandle SubscriberHandle()
        {
            if (!(this is WsxServerConnection))
                throw new InvalidOperationException("only connections a WsxServer accepted subscribe to topics");
            return OpenHandle();
        }

        // ------------------------------------------------------------------ closing

        /// <summary>
        /// Starts the close handshake with a code (1000-1003, 1007-1011, or 3000-4999) and a
        /// description of at most 123 UTF-8 bytes, or with <see cref="WebSocketCloseStatus.Empty"/>
        /// and no description for a close frame without a status code, and completes when the connection is closed
        /// (the peer answered, or the close timeout passed). Closing a closed connection does
        /// nothing. Cancelling stops the wait, not the close. Messages still unread are dropped
        /// with the connection.
        /// </summary>
        public override Task CloseAsync(WebSocketCloseStatus closeStatus, string statusDescription, CancellationToken cancellationToken)
        {
            return LoopBound.Guard(Close(closeStatus, statusDescription, cancellationToken), null, cancellationToken, "CloseAsync waits for the close handshake");
        }

        async Task Close(WebSocketCloseStatus closeStatus, string statusDescription, CancellationToken cancellationToken)
        {
            StartClose(closeStatus, statusDescription);
            await Tasks.WithCancellation(closed.Task, cancellationToken).ConfigureAwait(false);
            // With message events: complete once the last message and the Closed event were
            // raised (unless called from a handler, which the delivery waits for).
            Task delivery;
            lock (Gate)
                delivery = pump;
            if (deliveringFor != this)
                await Tasks.WithCancellation(delivery.ContinueWith(_ => true, TaskScheduler.Default), cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Sends the close frame and returns without waiting for the peer's: keep calling
        /// ReceiveAsync until it returns the Close result (the peer's answer).
        /// </summary>
        public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string statusDescription, CancellationToken cancellationToken)
        {
            cancellationToken.ThrowIfCancellationRequested();
            StartClose(closeStatus, statusDescription);
            return Task.CompletedTask;
        }

        void StartClose(WebSocketCloseStatus closeStatus, string statusDescription)
        {
            if ((int)closeStatus < 0 || (int)closeStatus > ushort.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(closeStatus), closeStatus, "a close code is 1000-4999");
            ConnHandle conn;
            lock (Gate)
            {
                ThrowIfDisposed();
                if (handle == null)
                    throw new InvalidOperationException("the WebSocket is not connected yet");
                conn = handle;
                closeRequested = true;
            }
            // Closing a closed WebSocket does nothing (as ClientWebSocket, whatever the status: the
            // Close result's own, even 1005, may be passed back).
            if (Native.State(conn) == NativeState.Closed)
                return;
            // The library validates the code and the description (WSX_ERR_INVALID_ARGUMENT) and
            // ignores a second close; a closed connection answers WSX_ERR_CLOSED, which is no failure here.
            var result = NativeMethods.wsx_conn_close(conn, (ushort)closeStatus, Native.Utf8(statusDescription ?? ""));
            if (result != WsxResult.Ok && result != WsxResult.Closed)
                throw Native.Failure(result);
        }

        /// <summary>
        /// Ends the connection at once, without a close handshake (<c>wsx_conn_abort</c>): State
        /// becomes Aborted, pending operations fail with a <see cref="WsxException"/>, the library
        /// drops the transport and the peer sees the connection end abnormally (1006). Safe to call
        /// at any time, more than once.
        /// </summary>
        public override void Abort()
        {
            ConnHandle conn;
            lock (Gate)
            {
                if (aborted || disposed)
                    return;
                aborted = true;
                conn = handle;
            }
            FailWaiters(AbortedError());
            if (conn != null)
                Native.Drop(conn);
        }

        /// <summary>
        /// Aborts the connection if it still runs and releases the native handle. A pending
        /// ReceiveAsync fails with a <see cref="WsxException"/>; later calls throw
        /// <see cref="ObjectDisposedException"/>; no event is raised afterwards. Waits for an
        /// event handler still running (up to a second, not when called from the handler itself),
        /// so nothing of the connection is left running once it returns. Safe to call more than
        /// once and from any thread.
        /// </summary>
        public override void Dispose()
        {
            Release(abortTransport: true);
        }

        /// <summary>
        /// Dispose, with the transport aborted or left to the library (a server's drain closes
        /// its connections with 1001 itself).
        /// </summary>
        internal void Release(bool abortTransport)
        {
            ConnHandle conn;
            bool wasAborted;
            lock (Gate)
            {
                if (disposed)
                    return;
                disposed = true;
                wasAborted = aborted;
                conn = handle;
            }
            // Read before FailWaiters, which completes `closed` itself (then nothing was dropped).
            var wasClosed = closed.Task.IsCompleted;
            FailWaiters(AbortedError());
            if (conn != null)
            {
                if (abortTransport && !wasAborted && !wasClosed)
                    Native.Drop(conn);
                conn.Dispose();
            }
            JoinDelivery();
        }

        void FailWaiters(Exception error)
        {
            object parked = null;
            lock (Gate)
            {
                // A pending ReceiveAsync fails now. The event delivery is left asleep: woken, it would
                // only see the end and stop, as a work item of the thread pool after Dispose returned
                // (see JoinDelivery); after Abort, the library's close wakes it.
                if (mode != ModeEvents)
                    parked = TakeReceiver();
            }
            // Its continuation goes to the thread pool also with InlineCompletions: not inside Abort or Dispose.
            if (parked != null && InlineCompletions)
                ThreadPool.QueueUserWorkItem(CompleteParked, parked);
            else if (parked != null)
                Wake(parked);
            closed.TrySetException(error);
            closed.Task.Exception?.Handle(_ => true);
            ReleaseWritableWaiters(error);
            OnAborted(error);
        }

        static readonly WaitCallback CompleteParked = Wake;

        /// <summary>Wakes a parked receive: completes the task it awaits, or has the operation try again.</summary>
        static void Wake(object parked)
        {
            var operation = parked as ReceiveOperation;
            if (operation != null)
                operation.Step();
            else
                ((TaskCompletionSource<bool>)parked).TrySetResult(true);
        }

        /// <summary>Fails the subclass's pending operations after <see cref="Abort"/> or <see cref="Dispose"/>.</summary>
        internal virtual void OnAborted(Exception error)
        {
        }

        internal bool IsDisposed
        {
            get { lock (Gate) return disposed; }
        }

        internal void ThrowIfDisposed()
        {
            if (disposed)
                throw new ObjectDisposedException(GetType().Name);
        }

        /// <summary>The native handle, or null before the open or after <see cref="Dispose"/>.</summary>
        internal ConnHandle HandleOrNull()
        {
            lock (Gate)
                return disposed ? null : handle;
        }

        /// <summary>The native handle of an opened connection.</summary>
        internal ConnHandle OpenHandle()
        {
            lock (Gate)
            {
                ThrowIfDisposed();
                if (handle == null)
                    throw new InvalidOperationException("the WebSocket is not connected yet");
                return handle;
            }
        }

        /// <summary>Marks a client's ConnectAsync as started; false if it was already.</summary>
        internal bool BeginConnecting()
        {
            lock (Gate)
            {
                ThrowIfDisposed();
                if (connectStarted || handle != null)
                    return false;
                connectStarted = true;
                return true;
            }
        }

        /// <summary>Adopts a reference to the native connection; the first one wins, a later one (or one after Dispose) is released.</summary>
        internal void Attach(ConnHandle conn)
        {
            bool adopted, disposedMeanwhile;
            lock (Gate)
            {
                disposedMeanwhile = disposed || aborted;
                adopted = !disposed && handle == null;
                if (adopted)
                    handle = conn;
            }
            if (adopted)
            {
                if (disposedMeanwhile)
                    Native.Drop(conn);
                return;
            }
            if (disposedMeanwhile)
                Native.Drop(conn);
            conn.Dispose();
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

        // ------------------------------------------------------------------ native callbacks (loop thread)
        // None lets an exception escape: the trampolines catch, handlers run inside the dispatcher's guard.

        internal virtual void HandleOpen(IntPtr conn, OpenEvent open)
        {
            bool attached;
            lock (Gate)
                attached = handle != null;
            if (!attached)
                Attach(ConnHandle.Retain(conn));
            lock (Gate)
            {
                handshake = open;
                failure = null;
            }
            if (WantsEvents)
            {
                lock (Gate)
                {
                    if (mode == ModeUndecided)
                        mode = ModeEvents;
                }
                StartPump();
            }
        }

        internal void HandleReadable()
        {
            object parked;
            lock (Gate)
            {
                // After Dispose nothing reads (a pending ReceiveAsync failed already).
                if (disposed)
                    return;
                // Woken, the delivery runs again (Dispose waits for it). Under the lock, so the
                // two change together.
                pumpWaiting = false;
                parked = TakeReceiver();
            }
            // Outside the lock: with InlineCompletions the receive's continuation runs right here.
            if (parked != null)
                Wake(parked);
        }

        /// <summary>
        /// Under <see cref="Gate"/>: moves the count a receive waits past, and takes the completion of
        /// one that awaits it, for the caller to complete outside the lock.
        /// </summary>
        object TakeReceiver()
        {
            readableEvents++;
            var parked = readable;
            readable = null;
            return parked;
        }

        /// <summary>A parked receive's completion: with InlineCompletions, its continuation runs on the thread that completes it.</summary>
        TaskCompletionSource<bool> NewParking()
        {
            return InlineCompletions ? new TaskCompletionSource<bool>() : Tasks.New<bool>();
        }

        internal void HandleWritable()
        {
            ReleaseWritableWaiters(null);
        }

        internal virtual void HandleError(WebSocketException error)
        {
            lock (Gate)
            {
                if (failure == null)
                    failure = error;
            }
            RaiseError(error);
        }

        /// <summary>The connection is over; returns false after <see cref="Dispose"/> (no more events then).</summary>
        internal virtual bool HandleClose(WebSocketCloseStatus status, string description, bool clean)
        {
            closed.TrySetResult(true);
            // A waiting reader reads the rest of the inbox, then the end; waiting senders retry and get WSX_ERR_CLOSED.
            HandleReadable();
            ReleaseWritableWaiters(null);
            return !IsDisposed;
        }

        /// <summary>Raises <see cref="Error"/> for this connection.</summary>
        internal virtual void RaiseError(Exception error)
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

        /// <summary>The error that ended the connection, if any.</summary>
        internal WebSocketException Failure
        {
            get { lock (Gate) return failure; }
        }
    }
}
