using System;
using System.Threading;

namespace Wsx
{
    /// <summary>
    /// The settings every connection has, client or server side (the native library's shared
    /// connection options). Each starts at the native library's default, read from it
    /// (<c>wsx_defaults_get</c>); the library also checks them: a value it refuses is a
    /// <see cref="WsxException"/> with <see cref="WsxResult.InvalidArgument"/> naming the option.
    /// </summary>
    public abstract class WsxConnectionOptions
    {
        internal WsxConnectionOptions()
        {
        }

        /// <summary>Largest message accepted, in bytes (default 16 MiB); a bigger one closes the connection with 1009.</summary>
        public long MaxMessageSize { get; set; } = (long)(ulong)NativeDefaults.Options.max_message_size;

        /// <summary>Largest single frame accepted, in bytes (default 16 MiB); a bigger one closes the connection with 1009.</summary>
        public long MaxFrameSize { get; set; } = (long)(ulong)NativeDefaults.Options.max_frame_size;

        /// <summary>Most bytes of the handshake's header block (default 8 KiB).</summary>
        public long MaxHeaderBytes { get; set; } = (long)(ulong)NativeDefaults.Options.max_header_bytes;

        /// <summary>Most header lines of the handshake (default 64).</summary>
        public long MaxHeaders { get; set; } = (long)(ulong)NativeDefaults.Options.max_headers;

        /// <summary>Time allowed for the TLS and WebSocket handshakes (default 10 s).</summary>
        public TimeSpan HandshakeTimeout { get; set; } = NativeDefaults.Ms(NativeDefaults.Options.handshake_timeout_ms);

        /// <summary>Time to wait for the peer's close frame and TCP close (default 5 s).</summary>
        public TimeSpan CloseTimeout { get; set; } = NativeDefaults.Ms(NativeDefaults.Options.close_timeout_ms);

        /// <summary>
        /// Time between keepalive pings (default 30 s), as <c>ClientWebSocketOptions.KeepAliveInterval</c>;
        /// <see cref="TimeSpan.Zero"/> or <see cref="Timeout.InfiniteTimeSpan"/> turns keepalive off.
        /// </summary>
        public TimeSpan KeepAliveInterval { get; set; } = NativeDefaults.Ms(NativeDefaults.Options.keepalive_interval_ms);

        /// <summary>Time to wait for the pong of a keepalive ping before dropping the connection (default 30 s), as <c>ClientWebSocketOptions.KeepAliveTimeout</c>.</summary>
        public TimeSpan KeepAliveTimeout { get; set; } = NativeDefaults.Ms(NativeDefaults.Options.keepalive_timeout_ms);

        /// <summary>Time with nothing received before the connection drops; <see cref="TimeSpan.Zero"/> is off (the default).</summary>
        public TimeSpan IdleTimeout { get; set; } = NativeDefaults.Ms(NativeDefaults.Options.idle_timeout_ms);

        /// <summary>Send-queue high-water mark in bytes: past it, SendAsync waits for the queue to drain (default 17 MiB).</summary>
        public long SendHighWaterMark { get; set; } = (long)(ulong)NativeDefaults.Options.high_water;

        /// <summary>Send-queue low-water mark in bytes: waiting sends resume below it (default 256 KiB).</summary>
        public long SendLowWaterMark { get; set; } = (long)(ulong)NativeDefaults.Options.low_water;

        /// <summary>
        /// Received messages waiting in the library's inbox (not yet read with ReceiveAsync) at which
        /// it stops reading the socket, so a fast peer meets TCP backpressure (default 16).
        /// </summary>
        public long ReceiveHighMessages { get; set; } = (long)(ulong)NativeDefaults.Inbox.high_messages;

        /// <summary>Waiting messages at or below which reading resumes (default 4).</summary>
        public long ReceiveLowMessages { get; set; } = (long)(ulong)NativeDefaults.Inbox.low_messages;

        /// <summary>
        /// The receive queue's bound in messages, as python-websockets' <c>max_queue</c>: setting it
        /// sets <see cref="ReceiveHighMessages"/> to the value and <see cref="ReceiveLowMessages"/>
        /// to a quarter of it. The library validates the marks when connecting or listening (0 is
        /// refused with <see cref="WsxResult.InvalidArgument"/>). Reads <see cref="ReceiveHighMessages"/>.
        /// </summary>
        public long MaxQueue
        {
            get { return ReceiveHighMessages; }
            set
            {
                ReceiveHighMessages = value;
                ReceiveLowMessages = value / 4;
            }
        }

        /// <summary>Waiting bytes at which the library stops reading the socket (default 32 MiB).</summary>
        public long ReceiveHighBytes { get; set; } = (long)(ulong)NativeDefaults.Inbox.high_bytes;

        /// <summary>Waiting bytes at or below which reading resumes (default 8 MiB).</summary>
        public long ReceiveLowBytes { get; set; } = (long)(ulong)NativeDefaults.Inbox.low_bytes;

        /// <summary>TCP_NODELAY (default on).</summary>
        public bool NoDelay { get; set; } = NativeDefaults.Options.nodelay != 0;

        /// <summary>Pings answered automatically (default on).</summary>
        public bool AutoPong { get; set; } = NativeDefaults.Options.auto_pong != 0;

        /// <summary>Refuse binary messages: one fails the connection with 1003 (default off).</summary>
        public bool RejectBinary { get; set; } = NativeDefaults.Options.reject_binary != 0;

        /// <summary>
        /// Where the events are raised: null (the default) raises them on the native loop's thread
        /// (message events on a thread-pool thread, or on the loop thread with <see cref="InlineCompletions"/>),
        /// where handlers must return quickly; a context
        /// (a game's main thread, a UI thread) gets them posted in order.
        /// </summary>
        public SynchronizationContext SynchronizationContext { get; set; }

        /// <summary>
        /// Completes a waiting ReceiveAsync (both overloads, and so the <see cref="WsxConnection.MessageReceived"/>
        /// delivery) synchronously on the native loop's thread when a message arrives, as .NET's
        /// <c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS</c> and Kestrel's inline scheduling do
        /// (default false: the code after <c>await</c> runs on a thread-pool thread). On, the code after
        /// <c>await ReceiveAsync</c> (and a MessageReceived handler without a
        /// <see cref="SynchronizationContext"/>) runs on the loop thread: a SendAsync there goes
        /// straight into the connection's buffer without waking the loop, the next ReceiveAsync that
        /// finds nothing hands the thread back to the loop, and a request-response costs no thread
        /// switch. The trade-off is .NET's: that code shares the thread with every connection of the
        /// loop, so it must not block or run long. A blocking wait there (Wait, Result, Thread.Sleep,
        /// a lock held by a thread that waits for the loop) stalls them all; a blocking wait there for
        /// something only the loop completes (a SendAsync waiting for room in the send queue, a
        /// CloseAsync waiting for the close handshake, a ConnectAsync) would never end, so it fails at
        /// once with <see cref="InvalidOperationException"/>: await those, or hand slow work to
        /// <c>Task.Run</c>. A blocking wait there on a ReceiveAsync is not caught: it stalls the loop for good. A receive woken by Abort, Dispose or a cancelled token continues on the
        /// thread pool. Read when connecting (a client) or starting (a server: every connection it accepts).
        /// </summary>
        public bool InlineCompletions { get; set; }
    }
}
