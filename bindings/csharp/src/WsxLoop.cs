using System;

namespace Wsx
{
    /// <summary>
    /// The one native loop of the process, which every <see cref="WsxClient"/> and
    /// <see cref="WsxServer"/> of this binding shares (one network thread): its counters.
    /// </summary>
    public static class WsxLoop
    {
        /// <summary>
        /// The loop's counters now: those of its client connections, plus its servers' (see
        /// <see cref="WsxServer.Metrics"/> for one server's alone). Message and byte counts are of
        /// payloads. Readable from any thread; starts the loop if nothing did yet.
        /// </summary>
        public static unsafe WsxMetrics Metrics
        {
            get
            {
                var m = new NativeMethods.wsx_metrics { struct_size = (UIntPtr)sizeof(NativeMethods.wsx_metrics) };
                Native.Check(NativeMethods.wsx_loop_metrics(NativeLoop.Shared, &m));
                return new WsxMetrics(m);
            }
        }

        /// <summary>
        /// <see cref="Metrics"/> as OpenMetrics text (content type <see cref="WsxMetrics.ContentType"/>),
        /// ending with <c># EOF</c>: what a <c>/metrics</c> route serves to Prometheus.
        /// </summary>
        public static unsafe string MetricsText()
        {
            var loop = NativeLoop.Shared;
            return WsxMetrics.Text((byte* buf, UIntPtr cap, out UIntPtr needed) => NativeMethods.wsx_loop_metrics_text(loop, buf, cap, out needed));
        }
    }
}
