using System;

namespace Wsx
{
    public sealed unsafe partial class WsxServer
    {
        /// <summary>
        /// The server's counters now (connections, handshakes accepted and refused by status,
        /// messages and bytes both ways, closes by code, keepalive timeouts, queued bytes, the
        /// last ping's round trip). Readable from any thread while the server runs.
        /// </summary>
        public WsxMetrics Metrics
        {
            get
            {
                var m = new NativeMethods.wsx_metrics { struct_size = (UIntPtr)sizeof(NativeMethods.wsx_metrics) };
                Native.Check(NativeMethods.wsx_server_metrics(StartedHandle(), &m));
                return new WsxMetrics(m);
            }
        }

        /// <summary>
        /// The counters as OpenMetrics text (what Prometheus scrapes; its content type is
        /// <see cref="WsxMetrics.ContentType"/>), ending with <c># EOF</c>.
        /// </summary>
        public string MetricsText()
        {
            var server = StartedHandle();
            return WsxMetrics.Text((byte* buf, UIntPtr cap, out UIntPtr needed) => NativeMethods.wsx_server_metrics_text(server, buf, cap, out needed));
        }
    }
}
