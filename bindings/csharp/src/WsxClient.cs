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
    /// A WebSocket client over the native wsx library: a <see cref="WebSocket"/> shaped like
    /// <see cref="ClientWebSocket"/> (<see cref="Options"/>, <see cref="ConnectAsync"/>), so code written
    /// for ClientWebSocket runs on it after changing the line that creates it.
    /// </summary>
    /// <example>
    /// <code>
    /// using (var ws = new WsxClient())          // was: new ClientWebSocket()
    /// {
    ///     await ws.ConnectAsync(new Uri("ws://127.0.0.1:9001/"), CancellationToken.None);
    ///     await ws.SendAsync(new ArraySegment&lt;byte&gt;(bytes), WebSocketMessageType.Text, true, CancellationToken.None);
    ///     var result = await ws.ReceiveAsync(new ArraySegment&lt;byte&gt;(buffer), CancellationToken.None);
    ///     await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
    /// }
    /// </code>
    /// </example>
    public sealed class WsxClient : WsxConnection
    {
        readonly WsxClientOptions options;
        readonly EventDispatcher events;
        readonly TaskCompletionSource<bool> opened = Tasks.New<bool>();
        int closedRaised;

        /// <summary>A client with the native library's default options (change them in <see cref="Options"/> before connecting).</summary>
        public WsxClient()
            : this(null)
        {
        }

        /// <summary>A client with <paramref name="options"/> (read when connecting).</summary>
        public WsxClient(WsxClientOptions options)
        {
            this.options = options ?? new WsxClientOptions();
            events = new EventDispatcher(this.options.SynchronizationContext, RaiseError);
        }

        /// <summary>The options, as <see cref="ClientWebSocket.Options"/>: change them before <see cref="ConnectAsync"/>.</summary>
        public WsxClientOptions Options
        {
            get { return options; }
        }

        /// <summary>
        /// The HTTP status of the handshake's response: 101 once connected, the server's status
        /// after it refused the handshake (401, 426, ...), else 0.
        /// </summary>
        public HttpStatusCode HttpStatusCode
        {
            get
            {
                var response = Handshake;
                if (response != null)
                    return (HttpStatusCode)response.Status;
                var refusal = WsxException.Of(Failure);
                return refusal != null && refusal.HttpStatus.HasValue ? (HttpStatusCode)refusal.HttpStatus.Value : 0;
            }
        }

        /// <summary>
        /// The headers of the handshake's response once connected, or of the response that refused
        /// the handshake (as <see cref="WsxException.HttpResponseHeaders"/>), else null: names are
        /// case-insensitive, a repeated field lists its values in order.
        /// </summary>
        public IReadOnlyDictionary<string, IEnumerable<string>> HttpResponseHeaders
        {
            get
            {
                var response = Handshake;
                if (response != null)
                    return response.Headers;
                var refusal = WsxException.Of(Failure);
                return refusal == null ? null : refusal.HttpResponseHeaders;
            }
        }

        /// <summary>
        /// Raised once when the connection is over (also after a failed connect); with
        /// <see cref="WsxClientOptions.Reconnect"/>, only when the client gives up or is closed.
        /// With <see cref="WsxConnection.MessageReceived"/> handlers, after the last message event.
        /// </summary>
        public event EventHandler<WsxClosedEventArgs> Closed;

        /// <summary>A connect attempt is about to start, after <see cref="WsxConnectingEventArgs.Delay"/> (also the first one).</summary>
        public event EventHandler<WsxConnectingEventArgs> Connecting;

        /// <summary>
        /// Raised on the loop thread as each connect attempt starts, to set its request headers
        /// (refresh a token, set cookies). The handler must return quickly.
        /// </summary>
        public event EventHandler<WsxBeforeConnectEventArgs> BeforeConnect;

        /// <summary>The handshake succeeded: the first time, and after every reconnect (<see cref="WsxConnectedEventArgs.IsReconnect"/>).</summary>
        public event EventHandler<WsxConnectedEventArgs> Connected;

        /// <summary>With <see cref="WsxClientOptions.Reconnect"/>: the connection (or an attempt) ended and another attempt follows.</summary>
        public event EventHandler<WsxClosedEventArgs> Disconnected;

        internal override EventDispatcher Events
        {
            get { return events; }
        }

        /// <summary>
        /// Connects to a <c>ws://</c> or <c>wss://</c> URL and completes once the handshake
        /// succeeded. Cancelling abandons the connection. A <c>ws+unix:</c> or <c>wss+unix:</c> URL
        /// (<c>ws+unix:///run/app.sock:/chat</c>, as Node's ws writes them) connects over a Unix
        /// domain socket (see <see cref="WsxClientOptions.UnixSocketPath"/>).
        /// </summary>
        /// <exception cref="WsxException">
        /// A bad URL or option, a name that does not resolve, a refused TCP connection, a TLS
        /// failure, a timeout, or a handshake the server refused (with <see cref="WsxException.HttpStatus"/>).
        /// Every one is a <see cref="WebSocketException"/>.
        /// </exception>
        /// <exception cref="InvalidOperationException">ConnectAsync was already called.</exception>
        public Task ConnectAsync(Uri uri, CancellationToken cancellationToken)
        {
            return LoopBound.Guard(Connect(uri, cancellationToken), null, cancellationToken, "ConnectAsync waits for the handshake");
        }

        async Task Connect(Uri uri, CancellationToken cancellationToken)
        {
            if (uri == null)
                throw new ArgumentNullException(nameof(uri));
            if (!uri.IsAbsoluteUri)
                throw new ArgumentException("the URL must be absolute (ws:// or wss://)", nameof(uri));
            cancellationToken.ThrowIfCancellationRequested();
            // Options are checked (by the library) first: a bad one leaves the client as it was.
            using (var nativeOptions = NativeOptions.Build(options, uri))
            {
                if (!BeginConnecting())
                    throw new InvalidOperationException("ConnectAsync can be called only once per client");
                var loop = NativeLoop.Shared;
                var url = Native.Utf8(uri.AbsoluteUri);
                InlineCompletions = options.InlineCompletions;
                // The library owns this handle from the call on and frees it, also if the call fails.
                var callbacks = ConnCallbacks.For(GCHandle.Alloc(this), client: true);
                ConnHandle conn;
                var result = NativeMethods.wsx_loop_connect(loop, url, nativeOptions, ref callbacks, out conn);
                if (result != WsxResult.Ok)
                {
                    var error = Native.Failure(result);
                    opened.TrySetException(error);
                    throw error;
                }
                Attach(conn);
            }
            using (cancellationToken.Register(Abort))
            {
                try
                {
                    await opened.Task.ConfigureAwait(false);
                }
                catch (WebSocketException) when (cancellationToken.IsCancellationRequested)
                {
                    throw new OperationCanceledException(cancellationToken);
                }
            }
        }

        internal override void OnAborted(Exception error)
        {
            opened.TrySetException(error);
            opened.Task.Exception?.Handle(_ => true);
        }

        internal override void HandleOpen(IntPtr conn, OpenEvent open)
        {
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

        internal override bool HandleClose(WebSocketCloseStatus status, string description, bool clean)
        {
            var raise = base.HandleClose(status, description, clean);
            // A failed connect throws the error that ended it (with the HTTP status of a refusal).
            opened.TrySetException(Failure ?? WsxException.Create(WsxResult.Closed, "the connection closed before its handshake finished"));
            opened.Task.Exception?.Handle(_ => true);
            // With message events, Closed follows the last message (raised when event delivery ends).
            if (raise && !WantsEvents)
                RaiseClosed(status, description, clean);
            return raise;
        }

        internal override void RaiseEnded(WsxMessage end, WebSocketException error)
        {
            var status = end != null ? end.CloseStatus.Value : (WebSocketCloseStatus)1006;
            var description = end != null ? end.CloseStatusDescription : error == null ? "" : error.Message;
            RaiseClosed(status, description, CloseWasClean ?? false);
        }

        void RaiseClosed(WebSocketCloseStatus status, string description, bool clean)
        {
            if (Interlocked.Exchange(ref closedRaised, 1) != 0)
                return;
            events.Raise(() =>
            {
                var handler = Closed;
                if (handler != null && !IsDisposed)
                    handler(this, new WsxClosedEventArgs(this, status, description, clean));
            });
        }
    }
}
