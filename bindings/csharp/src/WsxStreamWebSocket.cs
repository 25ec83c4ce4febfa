using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx
{
    /// <summary>
    /// WebSockets over any <see cref="Stream"/> whose opening handshake happened elsewhere, as
    /// .NET's <c>WebSocket.CreateFromStream</c>, on the library's sans-I/O engine (<c>wsx_engine_*</c>).
    /// </summary>
    public static class WsxWebSocket
    {
        /// <summary>
        /// A WebSocket over <paramref name="stream"/> (readable and writable; a NetworkStream, an
        /// SslStream for TLS, a pipe...), the signature of .NET's <c>WebSocket.CreateFromStream</c>:
        /// <paramref name="isServer"/> chooses the role, <paramref name="subProtocol"/> is what the
        /// handshake agreed (or null), <paramref name="keepAliveInterval"/> the time between
        /// keepalive pings (<see cref="TimeSpan.Zero"/> or <see cref="Timeout.InfiniteTimeSpan"/>: none).
        /// The WebSocket owns the stream and disposes it when the connection ends.
        /// </summary>
        public static WebSocket CreateFromStream(Stream stream, bool isServer, string subProtocol, TimeSpan keepAliveInterval)
        {
            return CreateFromStream(stream, new WsxWebSocketCreationOptions
            {
                IsServer = isServer,
                SubProtocol = subProtocol,
                KeepAliveInterval = keepAliveInterval,
            });
        }

        /// <summary>A WebSocket over <paramref name="stream"/> with <paramref name="options"/> (null: the defaults, client side).</summary>
        public static WsxStreamWebSocket CreateFromStream(Stream stream, WsxWebSocketCreationOptions options)
        {
            if (stream == null)
                throw new ArgumentNullException(nameof(stream));
            if (!stream.CanRead || !stream.CanWrite)
                throw new ArgumentException("the stream must be readable and writable", nameof(stream));
            return new WsxStreamWebSocket(stream, options ?? new WsxWebSocketCreationOptions());
        }
    }

    /// <summary>
    /// A <see cref="WebSocket"/> over a <see cref="Stream"/> (from <see cref="WsxWebSocket.CreateFromStream(Stream, bool, string, TimeSpan)"/>).
    /// The protocol (framing, masking, UTF-8, permessage-deflate, keepalive, the close handshake
    /// and its timeouts) is the native engine's; this class moves bytes between it and the stream.
    /// <para>
    /// One ReceiveAsync at a time (a second concurrent one throws InvalidOperationException, as in
    /// .NET); sends may run alongside it (and alongside each other: they are queued in call order).
    /// A read pump reads the stream whenever less than 1 MiB of received data waits to be taken by
    /// ReceiveAsync (so pings, pongs and close frames keep flowing), and stops reading beyond it.
    /// SendAsync completes once its bytes were written to the stream. Cancelling a ReceiveAsync
    /// stops the wait only (the next message stays in place); cancelling a SendAsync once its
    /// bytes are queued aborts the connection (the stream may hold half a frame).
    /// </para>
    /// </summary>
    public sealed class WsxStreamWebSocket : WebSocket
    {
        /// <summary>Received bytes not yet taken by ReceiveAsync past which the pump stops reading.</summary>
        const long ReadAhead = 1 << 20;

        const int ReadChunk = 64 * 1024;

        readonly object gate = new object();
        readonly Stream stream;
        readonly EngineHandle engine;
        readonly bool isServer;
        readonly string subProtocol;
        readonly TimeSpan closeTimeout;
        readonly Stopwatch clock = Stopwatch.StartNew();
        readonly Timer timer;
        readonly SemaphoreSlim writeLock = new SemaphoreSlim(1, 1);
        readonly byte[] writeBuffer = new byte[ReadChunk];
        readonly Queue<Piece> pieces = new Queue<Piece>();
        readonly TaskCompletionSource<bool> closed = Tasks.New<bool>();

        // Everything below is guarded by gate.
        Piece current;
        int currentOffset;
        long queuedBytes;
        TaskCompletionSource<bool> changed = Tasks.New<bool>();
        TaskCompletionSource<bool> room;
        bool receiving;
        bool sendingFragments;
        uint fragmentKind;
        bool closeRequested;
        bool discardData;
        bool closeSeen;
        bool closeClean;
        int closeOrigin;
        ushort closeCode;
        string closeReason;
        WebSocketException failure;
        bool dropTransport;
        bool dropping;
        bool shutdownStarted;
        bool aborted;
        bool disposed;
        int streamClosed;

        sealed class Piece
        {
            internal byte[] Data;
            internal WebSocketMessageType Type;
            internal bool Fin;
        }

        internal WsxStreamWebSocket(Stream stream, WsxWebSocketCreationOptions options)
        {
            this.stream = stream;
            isServer = options.IsServer;
            subProtocol = options.SubProtocol;
            closeTimeout = options.CloseTimeout;
            engine = Open(options);
            timer = new Timer(_ => OnTimer(), null, Timeout.Infinite, Timeout.Infinite);
            lock (gate)
            {
                // The first tick starts the keepalive timer; the OPEN event is ready at once.
                NativeEngine.wsx_engine_tick(engine, Now());
                Drain();
            }
            Task.Run(RunPump);
        }

        static unsafe EngineHandle Open(WsxWebSocketCreationOptions options)
        {
            var interval = options.KeepAliveInterval;
            var off = interval == TimeSpan.Zero || interval == Timeout.InfiniteTimeSpan;
            var keepAlive = off ? 0 : Milliseconds(interval, "KeepAliveInterval");
            var keepAliveTimeout = off ? 0 : Milliseconds(options.KeepAliveTimeout, "KeepAliveTimeout");
            var close = Milliseconds(options.CloseTimeout, "CloseTimeout");
            var maxMessage = Size(options.MaxMessageSize, "MaxMessageSize");
            var maxFrame = Size(options.MaxFrameSize, "MaxFrameSize");
            var deflate = options.DangerousDeflateOptions != null ? options.DangerousDeflateOptions.ToNative() : default(NativeEngine.wsx_deflate_params);
            // The role is the options': a server options' view makes a server engine. The engine
            // copies what it uses, so the options are freed at once.
            SafeHandle owner;
            IntPtr conn;
            if (options.IsServer)
            {
                ServerOptionsHandle server;
                Native.Check(NativeMethods.wsx_server_options_new(out server));
                owner = server;
                conn = NativeMethods.wsx_server_options_conn(server);
            }
            else
            {
                ClientOptionsHandle client;
                Native.Check(NativeMethods.wsx_client_options_new(out client));
                owner = client;
                conn = NativeMethods.wsx_client_options_conn(client);
            }
            using (owner)
            {
                if (conn == IntPtr.Zero)
                    throw Native.Failure(WsxResult.Null);
                // Streaming: every frame's payload is handed over as it comes (FRAGMENT events),
                // which is ReceiveAsync's EndOfMessage model.
                Native.Check(NativeMethods.wsx_conn_options_set_streaming(conn, true));
                Native.Check(NativeMethods.wsx_conn_options_set_max_message_size(conn, maxMessage));
                Native.Check(NativeMethods.wsx_conn_options_set_max_frame_size(conn, maxFrame));
                Native.Check(NativeMethods.wsx_conn_options_set_close_timeout_ms(conn, close));
                Native.Check(NativeMethods.wsx_conn_options_set_keepalive(conn, keepAlive, keepAliveTimeout));
                EngineHandle engine;
                Native.Check(NativeEngine.wsx_engine_open_new(conn, Native.Utf8(options.SubProtocol),
                    options.DangerousDeflateOptions != null ? &deflate : null, out engine));
                return engine;
            }
        }

        static UIntPtr Size(long bytes, string name)
        {
            if (bytes < 0 || (UIntPtr.Size == 4 && bytes > uint.MaxValue))
                throw new ArgumentOutOfRangeException(name, bytes, "must not be negative and must be addressable");
            return (UIntPtr)(ulong)bytes;
        }

        static uint Milliseconds(TimeSpan span, string name)
        {
            if (span < TimeSpan.Zero || span.TotalMilliseconds > uint.MaxValue)
                throw new ArgumentOutOfRangeException(name, span, "must not be negative and must be under 49 days");
            return (uint)Math.Ceiling(span.TotalMilliseconds);
        }

        ulong Now()
        {
            return (ulong)clock.ElapsedMilliseconds;
        }

        // ------------------------------------------------------------------ state

        /// <summary>
        /// Open; CloseSent once we started the close handshake, CloseReceived once the peer did;
        /// Closed after a clean close (both close frames passed), Aborted after an unclean end
        /// (the stream ended, a timeout, a protocol error), <see cref="Abort"/> or a
        /// <see cref="Dispose"/> before a clean close.
        /// </summary>
        public override WebSocketState State
        {
            get
            {
                lock (gate)
                {
                    if (aborted)
                        return WebSocketState.Aborted;
                    if (closeSeen)
                        return closeClean ? WebSocketState.Closed : WebSocketState.Aborted;
                    if (disposed)
                        return WebSocketState.Aborted;
                    switch ((NativeState)NativeEngine.wsx_engine_state(engine))
                    {
                        case NativeState.Connecting:
                            return WebSocketState.Connecting;
                        case NativeState.Open:
                            return WebSocketState.Open;
                        default:
                            return closeRequested ? WebSocketState.CloseSent : WebSocketState.CloseReceived;
                    }
                }
            }
        }

        /// <summary>The close code of the ended connection: the peer's, ours if we failed it, 1006 for a drop (and an <see cref="Abort"/>); null before.</summary>
        public override WebSocketCloseStatus? CloseStatus
        {
            get { lock (gate) return closeSeen ? (WebSocketCloseStatus)closeCode : (WebSocketCloseStatus?)null; }
        }

        /// <summary>The reason that came with <see cref="CloseStatus"/>; null before the end.</summary>
        public override string CloseStatusDescription
        {
            get { lock (gate) return closeSeen ? closeReason : null; }
        }

        /// <summary>The subprotocol given at creation, or null.</summary>
        public override string SubProtocol
        {
            get { return subProtocol; }
        }

        /// <summary>Whether the close handshake finished cleanly; null while the connection runs.</summary>
        public bool? CloseWasClean
        {
            get { lock (gate) return closeSeen ? closeClean : (bool?)null; }
        }

        /// <summary>Bytes queued by the engine and not yet written to the stream (<c>wsx_engine_buffered_amount</c>).</summary>
        public long BufferedAmount
        {
            get
            {
                lock (gate)
                    return disposed ? 0 : (long)(ulong)NativeEngine.wsx_engine_buffered_amount(engine);
            }
        }

        // ------------------------------------------------------------------ the engine, under gate

        /// <summary>Takes every ready event (copying what it lends) and re-arms the timer. Under gate.</summary>
        unsafe void Drain()
        {
            var ev = new NativeEngine.wsx_engine_event { struct_size = (UIntPtr)sizeof(NativeEngine.wsx_engine_event) };
            bool any = false;
            while (NativeEngine.wsx_engine_next_event(engine, &ev) == WsxResult.Ok && ev.kind != NativeEngine.KIND_NONE)
            {
                any = true;
                switch (ev.kind)
                {
                    case NativeEngine.KIND_MESSAGE:
                    case NativeEngine.KIND_FRAGMENT:
                        if (discardData)
                            break;
                        var piece = new Piece
                        {
                            Data = Native.Bytes(ev.data, ev.len),
                            Type = ev.msg_kind == (int)NativeMethods.WSX_MSG_TEXT ? WebSocketMessageType.Text : WebSocketMessageType.Binary,
                            Fin = ev.kind == NativeEngine.KIND_MESSAGE || ev.fin != 0,
                        };
                        pieces.Enqueue(piece);
                        queuedBytes += piece.Data.Length;
                        break;
                    case NativeEngine.KIND_ERROR:
                        if (failure == null)
                            failure = WsxException.Create(ev.error, Native.String(ev.data, ev.len),
                                ev.http_status == 0 ? (int?)null : ev.http_status);
                        break;
                    case NativeEngine.KIND_CLOSE:
                        closeSeen = true;
                        closeCode = ev.close_code;
                        closeReason = Native.String(ev.data, ev.len);
                        closeClean = ev.clean != 0;
                        closeOrigin = ev.close_origin;
                        if (!closeClean)
                            dropTransport = true; // nothing more worth writing: let go of the stream
                        closed.TrySetResult(true);
                        break;
                    default:
                        break; // OPEN (already known), PING (answered by the engine), PONG
                }
            }
            Rearm();
            if (any)
                Wake();
        }

        /// <summary>Wakes a waiting ReceiveAsync. Under gate.</summary>
        void Wake()
        {
            var was = changed;
            changed = Tasks.New<bool>();
            was.TrySetResult(true);
        }

        /// <summary>Sets the timer to the engine's next deadline. Under gate.</summary>
        void Rearm()
        {
            if (disposed)
                return;
            var deadline = NativeEngine.wsx_engine_next_deadline(engine);
            if (deadline == ulong.MaxValue)
            {
                timer.Change(Timeout.Infinite, Timeout.Infinite);
                return;
            }
            var now = Now();
            var due = deadline <= now ? 0 : Math.Min(deadline - now, (ulong)int.MaxValue - 1);
            timer.Change((long)due, Timeout.Infinite);
        }

        void OnTimer()
        {
            lock (gate)
            {
                if (aborted || disposed)
                    return;
                NativeEngine.wsx_engine_tick(engine, Now());
                Drain();
            }
            AfterEngine();
        }

        /// <summary>After engine calls outside a send: write what they queued, let go of a dead transport.</summary>
        void AfterEngine()
        {
            bool drop;
            lock (gate)
            {
                drop = dropTransport && !dropping;
                if (drop)
                    dropping = true;
            }
            if (!drop)
            {
                FlushInBackground();
                return;
            }
            // Failed (a protocol error, a timeout): write what the engine still has to say (its
            // close frame) for at most the close timeout, then let go of the stream.
            var flush = FlushAsync(CancellationToken.None);
            Task.WhenAny(flush, Task.Delay(closeTimeout)).ContinueWith(_ =>
            {
                var ignored = flush.Exception;
                CloseStream();
            }, TaskScheduler.Default);
        }

        // ------------------------------------------------------------------ reading

        async Task RunPump()
        {
            var buffer = new byte[ReadChunk];
            while (true)
            {
                Task wait = null;
                lock (gate)
                {
                    if (aborted || disposed || Volatile.Read(ref streamClosed) != 0)
                        return;
                    if (queuedBytes >= ReadAhead && !discardData)
                    {
                        room = Tasks.New<bool>();
                        wait = room.Task;
                    }
                }
                if (wait != null)
                {
                    await wait.ConfigureAwait(false);
                    continue;
                }
                int n;
                try
                {
                    n = await stream.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    n = 0; // a broken or disposed stream ends it as EOF does
                }
                lock (gate)
                {
                    if (aborted || disposed)
                        return;
                    if (n == 0)
                        NativeEngine.wsx_engine_feed_eof(engine);
                    else
                        Feed(buffer, n);
                    NativeEngine.wsx_engine_tick(engine, Now());
                    Drain();
                }
                if (n == 0)
                {
                    // The peer is gone (or the stream was closed after the close handshake): what
                    // the engine still has to say cannot be heard.
                    CloseStream();
                    return;
                }
                AfterEngine();
            }
        }

        /// <summary>Feeds <paramref name="n"/> bytes, taking events whenever the engine wants them taken first. Under gate.</summary>
        unsafe void Feed(byte[] buffer, int n)
        {
            fixed (byte* bytes = buffer)
            {
                int at = 0;
                while (at < n)
                {
                    UIntPtr used;
                    if (NativeEngine.wsx_engine_feed(engine, bytes + at, (UIntPtr)(n - at), out used) != WsxResult.Ok)
                        return;
                    at += (int)(uint)used;
                    Drain();
                    if (used == UIntPtr.Zero && NativeEngine.wsx_engine_state(engine) == (int)NativeState.Closed)
                        return;
                }
            }
        }

        /// <summary>
        /// Receives a message or its next part into <paramref name="buffer"/>: EndOfMessage is true
        /// on a message's last part. After the close handshake, the Close result with the peer's
        /// status; after an unclean end, a <see cref="WebSocketException"/>.
        /// </summary>
        public override async Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken)
        {
            if (buffer.Array == null)
                throw new ArgumentNullException(nameof(buffer));
            lock (gate)
            {
                ThrowIfDisposed();
                if (receiving)
                    throw new InvalidOperationException("There is already one outstanding 'ReceiveAsync' call for this WebSocket instance.");
                receiving = true;
            }
            try
            {
                while (true)
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    Task<bool> wait;
                    lock (gate)
                    {
                        if (aborted || disposed)
                            throw AbortedError();
                        if (current == null && pieces.Count > 0)
                        {
                            current = pieces.Dequeue();
                            currentOffset = 0;
                        }
                        if (current != null)
                            return Take(buffer);
                        if (closeSeen)
                        {
                            // The peer closed, or we closed and it answered: the Close result. The
                            // engine failing the connection (a protocol error, a timeout: its ERROR
                            // event) or the stream ending without a close handshake: a failure.
                            bool remote = closeOrigin == 2; // WSX_CLOSE_ORIGIN_REMOTE
                            if (remote || (closeClean && failure == null))
                                return new WebSocketReceiveResult(0, WebSocketMessageType.Close, true, (WebSocketCloseStatus)closeCode, closeReason);
                            throw failure ?? WsxException.Create(WsxResult.Io, "the connection ended without a close handshake (" + closeCode + ")");
                        }
                        wait = changed.Task;
                    }
                    await Tasks.WithCancellation(wait, cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                lock (gate)
                    receiving = false;
            }
        }

        /// <summary>Copies from the current piece. Under gate.</summary>
        WebSocketReceiveResult Take(ArraySegment<byte> buffer)
        {
            var piece = current;
            int n = Math.Min(buffer.Count, piece.Data.Length - currentOffset);
            Buffer.BlockCopy(piece.Data, currentOffset, buffer.Array, buffer.Offset, n);
            currentOffset += n;
            queuedBytes -= n;
            bool rest = currentOffset < piece.Data.Length;
            if (!rest)
                current = null;
            if (room != null && queuedBytes < ReadAhead)
            {
                room.TrySetResult(true);
                room = null;
            }
            return new WebSocketReceiveResult(n, piece.Type, piece.Fin && !rest);
        }

        // ------------------------------------------------------------------ writing

        /// <summary>
        /// Sends <paramref name="buffer"/> as a message, or as a piece of one when
        /// <paramref name="endOfMessage"/> is false (a frame of its own on the wire; the pieces of
        /// one message keep its first type). Completes once the bytes were written to the stream.
        /// </summary>
        public override async Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
        {
            if (buffer.Array == null)
                throw new ArgumentNullException(nameof(buffer));
            var kind = Native.MessageKind(messageType, nameof(messageType));
            cancellationToken.ThrowIfCancellationRequested();
            lock (gate)
            {
                ThrowIfDisposed();
                if (aborted)
                    throw AbortedError();
                WsxResult result;
                unsafe
                {
                    fixed (byte* bytes = buffer.Array)
                    {
                        var at = bytes + buffer.Offset;
                        var len = (UIntPtr)buffer.Count;
                        if (!sendingFragments && endOfMessage)
                            result = NativeEngine.wsx_engine_send(engine, kind, at, len);
                        else
                            result = NativeEngine.wsx_engine_send_fragment(engine, sendingFragments ? fragmentKind : kind, at, len, endOfMessage);
                    }
                }
                // The message is read on this thread, under the lock, before any await.
                if (result != WsxResult.Ok)
                    throw Native.Failure(result);
                if (!sendingFragments)
                    fragmentKind = kind;
                sendingFragments = !endOfMessage;
            }
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        void FlushInBackground()
        {
            FlushAsync(CancellationToken.None).ContinueWith(
                t => { var ignored = t.Exception; }, CancellationToken.None,
                TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        /// <summary>
        /// Writes everything the engine has queued (one writer at a time: the bytes are copied out
        /// under gate, written, then consumed), then, once the engine wants it, ends the stream.
        /// </summary>
        async Task FlushAsync(CancellationToken cancellationToken)
        {
            try
            {
                await writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Our bytes are queued: someone must still write them.
                FlushInBackground();
                throw;
            }
            bool shutdown = false;
            try
            {
                bool wrote = false;
                while (true)
                {
                    int n;
                    lock (gate)
                    {
                        if (aborted || disposed || Volatile.Read(ref streamClosed) != 0)
                        {
                            if (aborted || disposed)
                                throw AbortedError();
                            return;
                        }
                        IntPtr data;
                        UIntPtr len;
                        if (NativeEngine.wsx_engine_peek_output(engine, out data, out len) != WsxResult.Ok || len == UIntPtr.Zero)
                        {
                            shutdown = !shutdownStarted && NativeEngine.wsx_engine_wants_shutdown(engine);
                            if (shutdown)
                                shutdownStarted = true;
                            break;
                        }
                        n = (int)Math.Min((ulong)len, (ulong)writeBuffer.Length);
                        Marshal.Copy(data, writeBuffer, 0, n);
                    }
                    try
                    {
                        await stream.WriteAsync(writeBuffer, 0, n, cancellationToken).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        // Part of a frame may be out: the stream cannot carry another.
                        Abort();
                        throw;
                    }
                    catch (Exception e)
                    {
                        lock (gate)
                        {
                            // The connection ended meanwhile (the peer answered our close frame and
                            // closed the stream, which the pump then let go of): nothing was lost.
                            if (closeSeen && !aborted && !disposed)
                                return;
                        }
                        TransportFailed();
                        if (e is ObjectDisposedException && (aborted || disposed))
                            throw AbortedError();
                        throw WsxException.Create(WsxResult.Io, "writing to the stream failed: " + e.Message);
                    }
                    wrote = true;
                    lock (gate)
                    {
                        if (aborted || disposed)
                            throw AbortedError();
                        NativeEngine.wsx_engine_consume_output(engine, (UIntPtr)n);
                    }
                }
                if (wrote)
                {
                    try
                    {
                        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (!(e is OperationCanceledException))
                    {
                        lock (gate)
                        {
                            if (closeSeen && !aborted && !disposed)
                                return;
                        }
                        TransportFailed();
                        throw WsxException.Create(WsxResult.Io, "flushing the stream failed: " + e.Message);
                    }
                }
            }
            finally
            {
                writeLock.Release();
            }
            if (shutdown)
                Shutdown();
        }

        /// <summary>A write failed: the transport is gone.</summary>
        void TransportFailed()
        {
            lock (gate)
            {
                if (aborted || disposed)
                    return;
                NativeEngine.wsx_engine_feed_eof(engine);
                Drain();
            }
            CloseStream();
        }

        /// <summary>
        /// The engine is closed and said everything: a server closes the stream now; a client
        /// leaves that to the server (RFC 6455 7.1.1) and closes it at the end of the stream, or
        /// after the close timeout.
        /// </summary>
        void Shutdown()
        {
            if (isServer)
            {
                CloseStream();
                return;
            }
            Task.Delay(closeTimeout).ContinueWith(_ => CloseStream(), TaskScheduler.Default);
        }

        void CloseStream()
        {
            if (Interlocked.Exchange(ref streamClosed, 1) != 0)
                return;
            try
            {
                stream.Dispose();
            }
            catch (Exception)
            {
                // Closing is best effort: the connection is over either way.
            }
        }

        // ------------------------------------------------------------------ closing

        /// <summary>
        /// Starts the close handshake with a code (1000-1003, 1007-1011, 3000-4999) and a
        /// description of at most 123 UTF-8 bytes (or <see cref="WebSocketCloseStatus.Empty"/>
        /// and none), drops data messages not yet received, and completes when the connection is
        /// closed (the peer answered, or the close timeout passed). Closing a closed connection
        /// does nothing. Cancelling stops the wait, not the close.
        /// </summary>
        public override async Task CloseAsync(WebSocketCloseStatus closeStatus, string statusDescription, CancellationToken cancellationToken)
        {
            await CloseOutputAsync(closeStatus, statusDescription, cancellationToken).ConfigureAwait(false);
            lock (gate)
            {
                discardData = true;
                pieces.Clear();
                current = null;
                queuedBytes = 0;
                if (room != null)
                {
                    room.TrySetResult(true);
                    room = null;
                }
            }
            await Tasks.WithCancellation(closed.Task, cancellationToken).ConfigureAwait(false);
            lock (gate)
            {
                if (aborted || (!closeSeen && disposed))
                    throw AbortedError();
            }
        }

        /// <summary>
        /// Sends the close frame and completes once it was written, without waiting for the
        /// peer's: keep calling ReceiveAsync until it returns the Close result.
        /// </summary>
        public override async Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string statusDescription, CancellationToken cancellationToken)
        {
            if ((int)closeStatus < 0 || (int)closeStatus > ushort.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(closeStatus), closeStatus, "a close code is 1000-4999");
            cancellationToken.ThrowIfCancellationRequested();
            lock (gate)
            {
                ThrowIfDisposed();
                if (aborted)
                    throw AbortedError();
                if (closeSeen || NativeEngine.wsx_engine_state(engine) == (int)NativeState.Closed)
                    return;
                // The engine checks the code and the description; it ignores a second close and
                // answers WSX_ERR_CLOSED once its close frame is out, which is no failure here.
                var result = NativeEngine.wsx_engine_close(engine, (ushort)closeStatus, Native.Utf8(statusDescription ?? ""));
                if (result != WsxResult.Ok && result != WsxResult.Closed)
                    throw Native.Failure(result);
                closeRequested = true;
                Drain();
            }
            await FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Ends the connection at once, without a close handshake: State becomes Aborted,
        /// CloseStatus 1006 (unless the connection had ended already), a pending ReceiveAsync
        /// fails with a <see cref="WebSocketException"/>, the stream is disposed (the peer sees the
        /// connection end, 1006). Safe at any time, more than once.
        /// </summary>
        public override void Abort()
        {
            lock (gate)
            {
                if (aborted || disposed)
                    return;
                aborted = true;
                // The transport ends here: the engine's CLOSE event says how (1006, not clean), as
                // WsxClient reports an abort.
                NativeEngine.wsx_engine_feed_eof(engine);
                Drain();
                WakeAll();
            }
            CloseStream();
        }

        /// <summary>
        /// Aborts the connection if it still runs, disposes the stream and frees the engine. A
        /// pending ReceiveAsync fails with a <see cref="WebSocketException"/>; later calls throw
        /// <see cref="ObjectDisposedException"/>. Safe to call more than once, from any thread.
        /// </summary>
        public override void Dispose()
        {
            lock (gate)
            {
                if (disposed)
                    return;
                disposed = true;
                WakeAll();
                timer.Dispose();
                engine.Dispose();
            }
            CloseStream();
        }

        /// <summary>Fails every waiter. Under gate.</summary>
        void WakeAll()
        {
            Wake();
            closed.TrySetResult(true);
            if (room != null)
            {
                room.TrySetResult(true);
                room = null;
            }
        }

        void ThrowIfDisposed()
        {
            if (disposed)
                throw new ObjectDisposedException(nameof(WsxStreamWebSocket));
        }

        static WebSocketException AbortedError()
        {
            return WsxException.Create(WsxResult.Closed, "the WebSocket was aborted or disposed");
        }
    }
}
