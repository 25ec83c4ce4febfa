using System;
using System.Collections.Generic;

namespace Wsx
{
    /// <summary>
    /// When and how often a <see cref="WsxClient"/> reconnects (<see cref="WsxClientOptions.Reconnect"/>).
    /// The wait before reconnect attempt n (1, 2, ...) is drawn at random from
    /// [0, min(<see cref="MaxDelay"/>, <see cref="InitialDelay"/> × <see cref="Factor"/>^(n-1))]
    /// ("full jitter"). A client reconnects after network errors, timeouts (keepalive included) and
    /// the close codes of <see cref="RetryCloseCodes"/> (by default 1001 going away, as a server
    /// sends on a graceful restart, 1006, 1011, 1012 service restart, 1013 and 1014); never after a
    /// close the application asked for, nor after a handshake refused with a 4xx status unless
    /// <see cref="RetryOn4xx"/>.
    /// The defaults are the native library's.
    /// </summary>
    public sealed class WsxReconnectPolicy
    {
        /// <summary>Ceiling of the first wait (default 500 ms).</summary>
        public TimeSpan InitialDelay { get; set; } = NativeDefaults.Ms(NativeDefaults.Reconnect.initial_delay_ms);

        /// <summary>Growth of the ceiling per attempt (default 2.0): a finite number of at least 1.0, or connecting fails.</summary>
        public double Factor { get; set; } = NativeDefaults.Reconnect.factor;

        /// <summary>Largest ceiling (default 30 s).</summary>
        public TimeSpan MaxDelay { get; set; } = NativeDefaults.Ms(NativeDefaults.Reconnect.max_delay_ms);

        /// <summary>Most reconnect attempts in a row without a lasting connection; 0 (the default) tries forever.</summary>
        public int MaxAttempts { get; set; } = (int)NativeDefaults.Reconnect.max_attempts;

        /// <summary>A connection open this long starts the backoff afresh (default 10 s).</summary>
        public TimeSpan ResetAfter { get; set; } = NativeDefaults.Ms(NativeDefaults.Reconnect.reset_after_ms);

        /// <summary>Whether to retry after the server refused the handshake with a 4xx status (default false).</summary>
        public bool RetryOn4xx { get; set; } = NativeDefaults.Reconnect.retry_on_4xx != 0;

        /// <summary>
        /// Bytes <see cref="WsxConnection.SendAsync(ArraySegment{byte}, System.Net.WebSockets.WebSocketMessageType, System.Threading.CancellationToken)"/>
        /// may queue while disconnected, sent once the next connection opens; 0 (the default)
        /// refuses such sends with <see cref="WsxResult.NotConnected"/>.
        /// </summary>
        public long QueueWhileDisconnected { get; set; } = (long)(ulong)NativeDefaults.Reconnect.queue_while_disconnected;

        /// <summary>Whether each wait is drawn at random below its ceiling (default true); false waits exactly the ceiling.</summary>
        public bool Jitter { get; set; } = NativeDefaults.Reconnect.jitter != 0;

        /// <summary>
        /// The close codes after which the client reconnects, when the server closed (or, 1006, the
        /// connection dropped) and the application did not; null (the default) keeps the native
        /// default set, 1001, 1006, 1011, 1012, 1013 and 1014 (<see cref="DefaultRetryCloseCodes"/>).
        /// An empty set reconnects after failures only. Each code must be within 1000 to 4999.
        /// </summary>
        public ICollection<int> RetryCloseCodes { get; set; }

        /// <summary>The close codes reconnected after by default (a copy).</summary>
        public static int[] DefaultRetryCloseCodes
        {
            get { return new[] { 1001, 1006, 1011, 1012, 1013, 1014 }; }
        }

        /// <summary><see cref="RetryCloseCodes"/> for the native call; null for the default set.</summary>
        internal ushort[] RetryCloseCodesToNative()
        {
            if (RetryCloseCodes == null)
                return null;
            var codes = new ushort[RetryCloseCodes.Count];
            int i = 0;
            foreach (var code in RetryCloseCodes)
            {
                if (code < 1000 || code > 4999)
                    throw new ArgumentOutOfRangeException("RetryCloseCodes", code, "a close code is within 1000 to 4999");
                codes[i++] = (ushort)code;
            }
            return codes;
        }

        /// <summary>The native struct; values that cannot be represented throw here, the library checks the rest.</summary>
        internal NativeMethods.wsx_reconnect_options ToNative()
        {
            if (MaxAttempts < 0)
                throw new ArgumentOutOfRangeException("MaxAttempts", MaxAttempts, "must be zero (forever) or positive");
            if (QueueWhileDisconnected < 0 || (UIntPtr.Size == 4 && QueueWhileDisconnected > uint.MaxValue))
                throw new ArgumentOutOfRangeException("QueueWhileDisconnected", QueueWhileDisconnected, "must be zero or positive and addressable");
            return new NativeMethods.wsx_reconnect_options
            {
                struct_size = (UIntPtr)System.Runtime.InteropServices.Marshal.SizeOf(typeof(NativeMethods.wsx_reconnect_options)),
                initial_delay_ms = Milliseconds(InitialDelay, "InitialDelay"),
                factor = Factor,
                max_delay_ms = Milliseconds(MaxDelay, "MaxDelay"),
                max_attempts = (uint)MaxAttempts,
                reset_after_ms = Milliseconds(ResetAfter, "ResetAfter"),
                retry_on_4xx = RetryOn4xx ? (byte)1 : (byte)0,
                queue_while_disconnected = (UIntPtr)(ulong)QueueWhileDisconnected,
                jitter = Jitter ? (byte)1 : (byte)0,
            };
        }

        /// <summary>A time span of zero or more as whole milliseconds (rounded up).</summary>
        static uint Milliseconds(TimeSpan span, string name)
        {
            if (span < TimeSpan.Zero || span.TotalMilliseconds > uint.MaxValue)
                throw new ArgumentOutOfRangeException(name, span, "must be zero or positive and under 49 days");
            return (uint)Math.Ceiling(span.TotalMilliseconds);
        }
    }
}
