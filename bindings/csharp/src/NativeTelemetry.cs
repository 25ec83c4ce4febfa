// The raw imports of the telemetry part of the C API (include/wsx.h: wsx_metrics,
// wsx_*_metrics, wsx_*_metrics_text, wsx_log_set_callback), one to one. A part of
// NativeMethods kept in a file of its own so the rest of NativeMethods.cs stays untouched.
#pragma warning disable IDE1006 // C names on purpose

using System;
using System.Runtime.InteropServices;

namespace Wsx
{
    internal static unsafe partial class NativeMethods
    {
        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_metrics
        {
            internal UIntPtr struct_size;
            internal ulong connections_open, connections_opened, handshakes_accepted;
            internal ulong refused_400, refused_401, refused_403, refused_404, refused_405;
            internal ulong refused_426, refused_429, refused_500, refused_503, refused_other;
            internal ulong http_answered, handshakes_evicted;
            internal ulong messages_in, bytes_in, messages_out, bytes_out;
            internal ulong closes_1000, closes_1001, closes_1002, closes_1003, closes_1005, closes_1006;
            internal ulong closes_1007, closes_1008, closes_1009, closes_1011, closes_1012, closes_other;
            internal ulong keepalive_timeouts, protocol_errors, queued_bytes;
            internal long last_ping_rtt_us;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_log_record
        {
            internal int level;
            internal IntPtr target;
            internal IntPtr message;
            internal UIntPtr message_len;
        }

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_log(IntPtr user_data, wsx_log_record* record);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_metrics(ServerHandle server, wsx_metrics* out_metrics);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_metrics_text(ServerHandle server, byte* buf, UIntPtr cap, out UIntPtr out_needed);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_loop_metrics(LoopHandle loop, wsx_metrics* out_metrics);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_loop_metrics_text(LoopHandle loop, byte* buf, UIntPtr cap, out UIntPtr out_needed);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr wsx_metrics_content_type();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_log_set_callback(wsx_on_log callback, IntPtr user_data, IntPtr free_user_data, int level);
    }
}
