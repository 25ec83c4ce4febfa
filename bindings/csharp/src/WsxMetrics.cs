using System;
using System.Collections.Generic;
using System.Text;

namespace Wsx
{
    /// <summary>
    /// A snapshot of a server's counters (<see cref="WsxServer.Metrics"/>) or of the loop's
    /// (<see cref="WsxLoop.Metrics"/>). Message and byte
    /// counts are of payloads (before compression, without frame headers); a message counts at
    /// its last fragment.
    /// </summary>
    public sealed class WsxMetrics
    {
        /// <summary>Handshake refusals counted one by one (others are under "other", key 0).</summary>
        static readonly int[] RefusalStatuses = { 400, 401, 403, 404, 405, 426, 429, 500, 503 };
        /// <summary>Close codes counted one by one (others are under "other", key 0).</summary>
        static readonly int[] CloseCodes = { 1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1011, 1012 };

        internal WsxMetrics(NativeMethods.wsx_metrics m)
        {
            ConnectionsOpen = (long)m.connections_open;
            ConnectionsOpened = (long)m.connections_opened;
            HandshakesAccepted = (long)m.handshakes_accepted;
            var refused = new[] { m.refused_400, m.refused_401, m.refused_403, m.refused_404, m.refused_405, m.refused_426, m.refused_429, m.refused_500, m.refused_503 };
            var byStatus = new Dictionary<int, long>();
            for (int i = 0; i < RefusalStatuses.Length; i++)
                byStatus[RefusalStatuses[i]] = (long)refused[i];
            byStatus[0] = (long)m.refused_other;
            HandshakesRefused = byStatus;
            HttpAnswered = (long)m.http_answered;
            HandshakesEvicted = (long)m.handshakes_evicted;
            MessagesIn = (long)m.messages_in;
            BytesIn = (long)m.bytes_in;
            MessagesOut = (long)m.messages_out;
            BytesOut = (long)m.bytes_out;
            var closes = new[] { m.closes_1000, m.closes_1001, m.closes_1002, m.closes_1003, m.closes_1005, m.closes_1006, m.closes_1007, m.closes_1008, m.closes_1009, m.closes_1011, m.closes_1012 };
            var byCode = new Dictionary<int, long>();
            for (int i = 0; i < CloseCodes.Length; i++)
                byCode[CloseCodes[i]] = (long)closes[i];
            byCode[0] = (long)m.closes_other;
            Closes = byCode;
            KeepaliveTimeouts = (long)m.keepalive_timeouts;
            ProtocolErrors = (long)m.protocol_errors;
            QueuedBytes = (long)m.queued_bytes;
            LastPingRoundTrip = m.last_ping_rtt_us < 0 ? (TimeSpan?)null : TimeSpan.FromTicks(m.last_ping_rtt_us * 10);
        }

        /// <summary>Connections open now.</summary>
        public long ConnectionsOpen { get; }
        /// <summary>Connections that opened, in total.</summary>
        public long ConnectionsOpened { get; }
        /// <summary>Handshakes accepted.</summary>
        public long HandshakesAccepted { get; }
        /// <summary>Handshakes refused by HTTP status: 400, 401, 403, 404, 405, 426, 429, 500, 503, and 0 for any other.</summary>
        public IReadOnlyDictionary<int, long> HandshakesRefused { get; }
        /// <summary>Plain HTTP requests answered with a status below 400.</summary>
        public long HttpAnswered { get; }
        /// <summary>Unfinished handshakes dropped to make room for newer connections.</summary>
        public long HandshakesEvicted { get; }
        /// <summary>Messages received.</summary>
        public long MessagesIn { get; }
        /// <summary>Payload bytes received.</summary>
        public long BytesIn { get; }
        /// <summary>Messages queued for sending.</summary>
        public long MessagesOut { get; }
        /// <summary>Payload bytes queued for sending.</summary>
        public long BytesOut { get; }
        /// <summary>Connections closed by close code: 1000-1003, 1005-1009, 1011, 1012, and 0 for any other.</summary>
        public IReadOnlyDictionary<int, long> Closes { get; }
        /// <summary>Connections dropped because a keepalive ping went unanswered.</summary>
        public long KeepaliveTimeouts { get; }
        /// <summary>Protocol errors of peers.</summary>
        public long ProtocolErrors { get; }
        /// <summary>Bytes waiting in the connections' output, not yet written.</summary>
        public long QueuedBytes { get; }
        /// <summary>Round trip of the last answered ping of any connection; null before one.</summary>
        public TimeSpan? LastPingRoundTrip { get; }

        /// <summary>One of the library's <c>wsx_*_metrics_text</c> calls.</summary>
        internal unsafe delegate WsxResult TextCall(byte* buf, UIntPtr cap, out UIntPtr needed);

        /// <summary>The OpenMetrics text <paramref name="call"/> writes, in a buffer as large as it needs.</summary>
        internal static unsafe string Text(TextCall call)
        {
            UIntPtr needed;
            Native.Check(call(null, UIntPtr.Zero, out needed));
            while (true)
            {
                var buf = new byte[(int)(ulong)needed + 256]; // room for counters that grow meanwhile
                fixed (byte* p = buf)
                {
                    var r = call(p, (UIntPtr)buf.Length, out needed);
                    if (r == WsxResult.Ok)
                        return Encoding.UTF8.GetString(buf, 0, (int)(ulong)needed - 1);
                    if ((ulong)needed <= (ulong)buf.Length)
                        Native.Check(r);
                }
            }
        }

        /// <summary>The <c>Content-Type</c> of <see cref="WsxServer.MetricsText"/> and <see cref="WsxLoop.MetricsText"/>.</summary>
        public static string ContentType
        {
            get { return Native.String(NativeMethods.wsx_metrics_content_type()); }
        }
    }
}
