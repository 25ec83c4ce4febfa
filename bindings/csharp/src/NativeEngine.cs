// The raw imports of the sans-I/O engine (include/wsx.h, "BRING YOUR OWN I/O"): wsx_engine_*,
// wsx_engine_event and wsx_deflate_params, one to one. Kept apart from NativeMethods.cs (same
// rules: C names, usize is UIntPtr, C bool one byte, C enums int) so the engine's wrapper
// (WsxStreamWebSocket) stays in files of its own.
#pragma warning disable IDE1006 // C names on purpose

using System;
using System.Runtime.InteropServices;

namespace Wsx
{
    internal static unsafe class NativeEngine
    {
        const string Library = NativeMethods.Library;

        /// <summary>Binds the imports through NativeMethods' resolver (WSX_NATIVE_LIBRARY).</summary>
        static NativeEngine()
        {
            NativeLibraryResolver.Register();
        }

        // wsx_engine_event_kind
        internal const int KIND_NONE = 0;
        internal const int KIND_REQUEST = 1;
        internal const int KIND_OPEN = 2;
        internal const int KIND_MESSAGE = 3;
        internal const int KIND_FRAGMENT = 4;
        internal const int KIND_PING = 5;
        internal const int KIND_PONG = 6;
        internal const int KIND_CLOSE = 7;
        internal const int KIND_ERROR = 8;

        /// <summary>An event; every pointer is borrowed until the next call on the engine.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_engine_event
        {
            internal UIntPtr struct_size;
            internal int kind;
            internal int msg_kind;
            internal byte fin;
            internal IntPtr data;
            internal UIntPtr len;
            internal ushort close_code;
            internal int close_origin;
            internal byte clean;
            internal WsxResult error;
            internal ushort http_status;
            internal IntPtr subprotocol;
            internal byte deflate;
            internal IntPtr path;
            internal IntPtr headers;
            internal UIntPtr header_count;
            internal IntPtr body;
            internal UIntPtr body_len;
        }

        /// <summary>The permessage-deflate parameters a handshake agreed (RFC 7692).</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_deflate_params
        {
            internal UIntPtr struct_size;
            internal byte client_max_window_bits;
            internal byte server_max_window_bits;
            internal byte client_no_context_takeover;
            internal byte server_no_context_takeover;
        }

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_engine_open_new(IntPtr options, byte[] subprotocol, wsx_deflate_params* deflate, out EngineHandle out_engine);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void wsx_engine_free(IntPtr engine);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_engine_feed(EngineHandle engine, byte* data, UIntPtr len, out UIntPtr out_consumed);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_engine_feed_eof(EngineHandle engine);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_engine_next_event(EngineHandle engine, wsx_engine_event* out_event);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_engine_peek_output(EngineHandle engine, out IntPtr out_data, out UIntPtr out_len);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_engine_consume_output(EngineHandle engine, UIntPtr n);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        [return: MarshalAs(UnmanagedType.U1)]
        internal static extern bool wsx_engine_wants_shutdown(EngineHandle engine);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_engine_send(EngineHandle engine, uint kind, byte* data, UIntPtr len);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_engine_send_fragment(EngineHandle engine, uint kind, byte* data, UIntPtr len, [MarshalAs(UnmanagedType.U1)] bool fin);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_engine_ping(EngineHandle engine, byte* data, UIntPtr len);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_engine_close(EngineHandle engine, ushort code, byte[] reason);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_engine_tick(EngineHandle engine, ulong now_ms);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong wsx_engine_next_deadline(EngineHandle engine);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int wsx_engine_state(EngineHandle engine);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr wsx_engine_buffered_amount(EngineHandle engine);
    }

    /// <summary>A <c>wsx_engine</c>; released with <c>wsx_engine_free</c>.</summary>
    internal sealed class EngineHandle : WsxSafeHandle
    {
        protected override bool ReleaseHandle()
        {
            NativeEngine.wsx_engine_free(handle);
            return true;
        }
    }
}
