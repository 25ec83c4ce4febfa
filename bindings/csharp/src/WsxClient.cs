using System;
using System.Collections.Generic;
using System.Net;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx
{
    /// <summary>
    /// A WebSocket client over the native wsx library, shaped like
    /// <see cref="System.Net.WebSockets.ClientWebSocket"/>. Read messages with
    /// <see cref="ReceiveAsync"/>, or subscribe to <see cref="MessageReceived"/> (before
    /// connecting) to get them as events instead.
    /// </summary>
    /// <example>
    /// <code>
    /// using (var ws = new WsxClient())
    /// {
    ///     await ws.ConnectAsync(new Uri("ws://127.0.0.1:9001/"), CancellationToken.None);
    ///     await ws.SendAsync("hello", CancellationToken.None);
    ///     var reply = await ws.ReceiveAsync(CancellationToken.None);
    ///     await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
    /// }
    /// </code>
    /// </example>
    public sealed class WsxClient : WsxConnection
    {
        readonly WsxClientOptions options;
        readonly EventDispatcher events;
        readonly TaskCompletionSource<bool> opened = Tasks.New<bool>();
        readonly Queue<WsxMessage> inbox = new Queue<WsxMessage>();
        readonly long inboxBudget;
        long inboxBytes;
        bool inboxOverflowed;
        readonly LinkedList<TaskCompletionSource<WsxMessage>> receivers = new LinkedList<TaskCompletionSource<WsxMessage>>();
        WsxException failure;
        WsxMessage end;

        /// <summary>
        /// Unread messages are held up to this many times the largest message size (64 MiB by
        /// default); a peer that sends more while nobody reads is closed with 1008, so memory stays bounded.
        /// </summary>
        const long InboxMessages = 4;

        /// <summary>A client with default options.</summary>
        public WsxClient()
            : this(null)
        {
        }

        /// <summary>A client with these options (read when <see cref="ConnectAsync"/> starts; null for the defaults).</summary>
        public WsxClient(WsxClientOptions options)
        {
            this.options = options ?? new WsxClientOptions();
            inboxBudget = InboxMessages * Math.Max(1, this.options.MaxMessageSize);
            events = new EventDispatcher(this.options.SynchronizationContext, RaiseError);
        }

        /// <summary>
        /// Raised for every message instead of queueing it for <see cref="ReceiveAsync"/>, while
        /// at least one handler is subscribed. Runs on the loop thread unless
        /// <see cref="WsxClientOptions.SynchronizationContext"/> is set.
        /// </summary>
        public event EventHandler<WsxMessageEventArgs> MessageReceived;

        /// <summary>The status of the handshake's response once connected (101, switching protocols), else 0.</summary>
        public HttpStatusCode HttpStatusCode
        {
            get
            {
                var response = Handshake;
                return response == null ? 0 : (HttpStatusCode)response.Status;
            }
        }

        /// <summary>
        /// The headers of the handshake's response once connected, else null: names are
        /// case-insensitive, a repeated field lists its values in order. The negotiated extensions
        /// are in <c>Sec-WebSocket-Extensions</c> (<c>permessage-deflate</c> when compression is on).
        /// </summary>
        public IReadOnlyDictionary<string, IEnumerable<string>> HttpResponseHeaders
        {
            get
            {
                var response = Handshake;
                return response == null ? null : response.Headers;
            }
        }

        /// <summary>
        /// Raised once when the connection is over (also after a failed connect); with
        /// <see cref="WsxClientOptions.Reconnect"/>, only when the client gives up or is closed.
        /// </summary>
        public event EventHandler<WsxClosedEventArgs> Closed;

        /// <summary>A connect attempt is about to start, after <see cref="WsxConnectingEventArgs.Delay"/> (also the first one).</summary>
        public event EventHandler<WsxConnectingEventArgs> Connecting;

        /// <summary>
        /// Raised on the loop thread (never posted to the <see cref="WsxClientOptions.SynchronizationContext"/>)
        /// as each connect attempt starts, to set its request headers: refresh a token, set cookies.
        /// The handler must return quickly.
        /// </summary>
        public event EventHandler<WsxBeforeConnectEventArgs> BeforeConnect;

        /// <summary>
        /// The handshake succeeded: the first time (also awaited by <see cref="ConnectAsync"/>), and
        /// after every reconnect (<see cref="WsxConnectedEventArgs.IsReconnect"/>), the time to re-subscribe.
        /// </summary>
        public event EventHandler<WsxConnectedEventArgs> Connected;

        /// <summary>
        /// With <see cref="WsxClientOptions.Reconnect"/>: the connection (or an attempt) ended and
        /// another attempt follows; <see cref="WsxConnection.State"/> is Connecting until then, and
        /// sends fail with <see cref="WsxResult.NotConnected"/> unless
        /// <see cref="WsxReconnectPolicy.QueueWhileDisconnected"/> allows them.
        /// </summary>
        public event EventHandler<WsxClosedEventArgs> Disconnected;

        internal override EventDispatcher Events
        {
            get { return events; }
        }

        /// <summary>
        /// Connects to a <c>ws://</c> or <c>wss://</c> URL and completes once the handshake
        /// succeeded. Cancelling abandons the connection.
        /// </summary>
        /// <exception cref="WsxException">
        /// A bad URL (<see cref="WsxResult.InvalidArgument"/>), a name that does not resolve, a refused
        /// TCP connection, a TLS failure, a timeout, or a handshake the server refused (with
        /// <see cref="WsxException.HttpStatus"/>).
        /// </exception>
        /// <exception cref="InvalidOperationException">ConnectAsync was already called.</exception>
        public async Task ConnectAsync(Uri uri, CancellationToken cancellationToken)
        {
            if (uri == null)
                throw new ArgumentNullException(nameof(uri));
            if (!uri.IsAbsoluteUri)
                throw new ArgumentException("the URL must be absolute (ws:// or wss://)", nameof(uri));
            cancellationToken.ThrowIfCancellationRequested();
            // Options are checked first: a bad one leaves the client as it was.
            using (var nativeOptions = NativeOptions.Build(options))
            {
                if (!BeginConnecting())
                    throw new InvalidOperationException("ConnectAsync can be called only once per client");
                var loop = NativeLoop.Shared;
                var url = Native.Utf8(uri.AbsoluteUri);
                // The library owns this handle from the call on and frees it, also if the call fails.
                var callbacks = ConnCallbacks.For(GCHandle.Alloc(this));
                ConnHandle conn;
                var result = NativeMethods.wsx_connect(loop, url, nativeOptions, ref callbacks, out conn);
                if (result != WsxResult.Ok)
                {
                    var error = Native.Failure(result);
                    HandleClose((WebSocketCloseStatus)1006, error.Message, false, error);
                    throw error;
                }
                Attach(conn);
            }
            using (cancellationToken.Register(Dispose))
            {
                try
                {
                    await opened.Task.ConfigureAwait(false);
                }
                catch (ObjectDisposedException) when (cancellationToken.IsCancellationRequested)
                {
                    throw new OperationCanceledException(cancellationToken);
                }
            }
        }

        /// <summary>
        /// The next message. Once the connection is over and every message was read, returns a
        /// message of type <see cref="WebSocketMessageType.Close"/> with the close status (every
        /// time it is called), or throws the <see cref="WsxException"/> that ended an unclean
        /// connection. Several calls may wait at once; they are served in order.
        /// </summary>
        public Task<WsxMessage> ReceiveAsync(CancellationToken cancellationToken)
        {
            TaskCompletionSource<WsxMessage> receiver;
            LinkedListNode<TaskCompletionSource<WsxMessage>> node;
            lock (Gate)
            {
                ThrowIfDisposed();
                if (!HasStarted)
                    throw new InvalidOperationException("the connection is not open yet");
                if (inbox.Count > 0)
                {
                    var next = inbox.Dequeue();
                    inboxBytes -= next.Data.Length;
                    return Task.FromResult(next);
                }
                if (end != null)
                    return failure != null ? Task.FromException<WsxMessage>(failure) : Task.FromResult(end);
                if (cancellationToken.IsCancellationRequested)
                    return Task.FromCanceled<WsxMessage>(cancellationToken);
                receiver = Tasks.New<WsxMessage>();
                node = receivers.AddLast(receiver);
            }
            if (cancellationToken.CanBeCanceled)
            {
                var registration = cancellationToken.Register(() =>
                {
                    bool removed;
                    lock (Gate)
                    {
                        removed = node.List != null;
                        if (removed)
                            receivers.Remove(node);
                    }
                    if (removed)
                        receiver.TrySetCanceled(cancellationToken);
                });
                receiver.Task.ContinueWith(_ => registration.Dispose(), TaskScheduler.Default);
            }
            return receiver.Task;
        }

        internal override void OnDisposed(ObjectDisposedException error)
        {
            opened.TrySetException(error);
            foreach (var receiver in TakeReceivers())
                receiver.TrySetException(error);
        }

        List<TaskCompletionSource<WsxMessage>> TakeReceivers()
        {
            lock (Gate)
            {
                var taken = new List<TaskCompletionSource<WsxMessage>>(receivers);
                receivers.Clear();
                return taken;
            }
        }

        internal override void HandleOpen(IntPtr conn, OpenEvent open)
        {
            lock (Gate)
            {
                // An error before an earlier drop was not the end.
                failure = null;
            }
            base.HandleOpen(conn, open);
            opened.TrySetResult(true);
            RaiseUnlessDisposed(() => Connected?.Invoke(this, new WsxConnectedEventArgs(open.IsReconnect, open.SubProtocol)));
        }

        internal void HandleConnecting(int attempt, TimeSpan delay)
        {
            RaiseUnlessDisposed(() => Connecting?.Invoke(this, new WsxConnectingEventArgs(attempt, delay)));
        }

        internal void HandleBeforeConnect(IntPtr headers)
        {
            var handler = BeforeConnect;
            if (handler == null || IsDisposed)
                return;
            var args = new WsxBeforeConnectEventArgs(headers);
            try
            {
                handler(this, args);
            }
            catch (Exception e)
            {
                RaiseError(e);
            }
            finally
            {
                args.Expire();
            }
        }

        internal void HandleDisconnect(WebSocketCloseStatus status, string description, bool clean)
        {
            MarkReconnecting();
            RaiseUnlessDisposed(() => Disconnected?.Invoke(this, new WsxClosedEventArgs(this, status, description, clean)));
        }

        void RaiseUnlessDisposed(Action raise)
        {
            if (!IsDisposed)
                events.Raise(() =>
                {
                    if (!IsDisposed)
                        raise();
                });
        }

        internal override void HandleMessage(WsxMessage message)
        {
            if (MessageReceived != null)
            {
                events.Raise(() =>
                {
                    var handler = MessageReceived;
                    if (handler != null && !IsDisposed)
                        handler(this, new WsxMessageEventArgs(this, message));
                });
                return;
            }
            TaskCompletionSource<WsxMessage> receiver = null;
            bool overflow = false;
            lock (Gate)
            {
                if (receivers.Count > 0)
                {
                    receiver = receivers.First.Value;
                    receivers.RemoveFirst();
                }
                else if (!inboxOverflowed)
                {
                    inbox.Enqueue(message);
                    inboxBytes += message.Data.Length;
                    overflow = inboxOverflowed = inboxBytes > inboxBudget;
                }
            }
            if (receiver != null)
                receiver.TrySetResult(message);
            if (overflow)
                StartClose(WebSocketCloseStatus.PolicyViolation, "receive queue full: the application is not reading");
        }

        internal override void HandleError(WsxException error)
        {
            lock (Gate)
            {
                if (failure == null)
                    failure = error;
            }
            base.HandleError(error);
        }

        internal override bool HandleClose(WebSocketCloseStatus status, string description, bool clean)
        {
            return HandleClose(status, description, clean, null);
        }

        bool HandleClose(WebSocketCloseStatus status, string description, bool clean, WsxException error)
        {
            WsxException ended, connectError;
            lock (Gate)
            {
                if (error != null && failure == null)
                    failure = error;
                // A failed connect throws the error that ended it (with the HTTP status of a refusal).
                connectError = failure ?? new WsxException(WsxResult.Closed, "the connection closed before its handshake finished");
                // A clean close is a normal end for readers, even after an error was reported.
                if (clean)
                    failure = null;
                end = new WsxMessage(status, description);
                ended = failure;
            }
            var raise = base.HandleClose(status, description, clean);
            // Completed last, so that ConnectAsync's caller sees the final State and CloseStatus.
            opened.TrySetException(connectError);
            // After Dispose, waiting readers get the ObjectDisposedException instead.
            foreach (var receiver in IsDisposed ? new List<TaskCompletionSource<WsxMessage>>() : TakeReceivers())
            {
                if (ended != null)
                    receiver.TrySetException(ended);
                else
                    receiver.TrySetResult(end);
            }
            if (raise)
            {
                events.Raise(() =>
                {
                    var handler = Closed;
                    if (handler != null)
                        handler(this, new WsxClosedEventArgs(this, status, description, clean));
                });
            }
            return raise;
        }
    }
}
