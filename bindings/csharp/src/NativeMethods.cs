// The raw imports of the C API (include/wsx.h), one to one, and nothing else: the types the
// callbacks receive, the callback signatures and the functions. Names are the C names.
// usize is UIntPtr, u16 ushort, u32 uint, C bool a one-byte bool, C enums int.
#pragma warning disable IDE1006 // C names on purpose

using System;
using System.Runtime.InteropServices;

namespace Wsx
{
    internal static unsafe partial class NativeMethods
    {
        /// <summary>The native library's name: libwsx.so, libwsx.dylib, wsx.dll.</summary>
        internal const string Library = "wsx";

        /// <summary>Lets WSX_NATIVE_LIBRARY choose the library before the first import is bound.</summary>
        static NativeMethods()
        {
            NativeLibraryResolver.Register();
        }

        internal const uint WSX_MSG_TEXT = 1; // WSX_MSG_KIND_TEXT
        internal const uint WSX_MSG_BINARY = 2; // WSX_MSG_KIND_BINARY
        internal const uint WSX_SEND_NO_COMPRESS = 1;

        // ---- structs passed to callbacks (borrowed for the call only) ----

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_message
        {
            internal int kind;
            internal IntPtr data;
            internal UIntPtr len;
            internal byte fin;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_header
        {
            internal IntPtr name;
            internal IntPtr value;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_open
        {
            internal IntPtr subprotocol;
            internal ushort status;
            internal IntPtr path;
            internal IntPtr headers;
            internal UIntPtr headers_len;
            internal IntPtr peer_addr;
            internal byte is_reconnect;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_close
        {
            internal ushort code;
            internal IntPtr reason;
            internal UIntPtr reason_len;
            internal byte clean;
            internal int origin;
            internal byte normal;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_error
        {
            internal WsxResult code;
            internal IntPtr message;
            internal ushort http_status;
            internal int timeout;
            internal int os_error;
            internal IntPtr headers;
            internal UIntPtr headers_len;
            internal IntPtr body;
            internal UIntPtr body_len;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_request
        {
            internal IntPtr path;
            internal IntPtr headers;
            internal UIntPtr headers_len;
            internal IntPtr origin;
            internal IntPtr peer_addr;
            internal IntPtr subprotocol;
            // Appended in 0.2 (HTTP on the WebSocket port, mutual TLS).
            internal byte plain_http;
            internal IntPtr peer_subject;
            internal wsx_cert* peer_certs;
            internal UIntPtr peer_certs_len;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_cert
        {
            internal IntPtr der;
            internal UIntPtr len;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_peer_identity
        {
            internal UIntPtr struct_size;
            internal IntPtr subject;
            internal wsx_cert* certs;
            internal UIntPtr certs_len;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_deflate_options
        {
            internal UIntPtr struct_size;
            internal UIntPtr threshold;
            internal uint level;
            internal byte client_max_window_bits;
            internal byte server_max_window_bits;
            internal byte client_no_context_takeover;
            internal byte server_no_context_takeover;
            internal byte shared_compressor;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_defaults
        {
            internal UIntPtr struct_size;
            internal UIntPtr max_message_size;
            internal UIntPtr max_frame_size;
            internal UIntPtr max_header_bytes;
            internal UIntPtr max_headers;
            internal uint connect_timeout_ms;
            internal uint handshake_timeout_ms;
            internal uint close_timeout_ms;
            internal uint keepalive_interval_ms;
            internal uint keepalive_timeout_ms;
            internal uint idle_timeout_ms;
            internal UIntPtr high_water;
            internal UIntPtr low_water;
            internal byte nodelay;
            internal byte auto_pong;
            internal byte client_compression;
            internal byte server_compression;
            internal IntPtr server_host;
            internal ushort server_port;
            internal UIntPtr max_connections;
            internal UIntPtr max_pending_handshakes;
            internal byte verify_certificates;
            internal UIntPtr inbox_high_messages;
            internal UIntPtr inbox_low_messages;
            internal UIntPtr inbox_high_bytes;
            internal UIntPtr inbox_low_bytes;
            internal byte reject_binary;
            internal byte proxy_from_env;
            internal int slow_subscriber;
            internal UIntPtr server_loops;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_slow_subscriber_event
        {
            internal ulong conn_id;
            internal IntPtr topic;
            internal UIntPtr topic_len;
            internal int action;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_reconnect_options
        {
            internal UIntPtr struct_size;
            internal double factor;
            internal UIntPtr queue_while_disconnected;
            internal uint initial_delay_ms;
            internal uint max_delay_ms;
            internal uint max_attempts;
            internal uint reset_after_ms;
            internal byte retry_on_4xx;
            internal byte jitter;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_connecting
        {
            internal uint attempt;
            internal ulong delay_ms;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_inbox_options
        {
            internal UIntPtr struct_size;
            internal UIntPtr high_messages;
            internal UIntPtr low_messages;
            internal UIntPtr high_bytes;
            internal UIntPtr low_bytes;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_live_objects
        {
            internal UIntPtr struct_size;
            internal UIntPtr connections;
            internal UIntPtr servers;
            internal UIntPtr loops;
        }

        /// <summary>Function pointers are IntPtr (from Marshal.GetFunctionPointerForDelegate); zero is NULL.</summary>
        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_conn_callbacks
        {
            internal UIntPtr struct_size;
            internal IntPtr user_data;
            internal IntPtr free_user_data;
            internal IntPtr on_open;
            internal IntPtr on_message;
            internal IntPtr on_error;
            internal IntPtr on_close;
            internal IntPtr on_ping;
            internal IntPtr on_pong;
            internal IntPtr on_writable;
            internal IntPtr on_readable;
            internal IntPtr on_connecting;
            internal IntPtr on_disconnect;
            internal IntPtr on_before_connect;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_server_callbacks
        {
            internal UIntPtr struct_size;
            internal IntPtr user_data;
            internal IntPtr free_user_data;
            internal wsx_conn_callbacks* conn;
            internal IntPtr on_upgrade;
            internal IntPtr on_server_error;
            internal IntPtr on_shutdown;
            internal IntPtr on_slow_subscriber;
            // Appended in 0.2 (cluster pub/sub).
            internal IntPtr on_cluster_state;
            internal IntPtr on_cluster_gap;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_cluster_options
        {
            internal UIntPtr struct_size;
            internal byte* url;
            internal byte* prefix;
            internal byte* node_id;
            internal byte* tls_ca_file;
            internal wsx_reconnect_options* reconnect;
            internal UIntPtr max_queued;
            internal UIntPtr max_queued_bytes;
            internal uint connect_timeout_ms;
            internal uint keepalive_ms;
            internal int queue_full;
            internal byte sharded;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_cluster_stats
        {
            internal UIntPtr struct_size;
            internal int state;
            internal ulong epoch;
            internal ulong published;
            internal ulong received;
            internal ulong queued;
            internal ulong dropped;
            internal ulong gaps;
            internal ulong disconnects;
            internal ulong subscriptions;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_cluster_state_event
        {
            internal int state;
            internal IntPtr detail;
            internal UIntPtr detail_len;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_cluster_gap
        {
            internal IntPtr topic;
            internal UIntPtr topic_len;
            internal IntPtr node;
            internal UIntPtr node_len;
            internal ulong epoch;
            internal ulong previous_epoch;
            internal ulong expected;
            internal ulong received;
            internal ulong missed;
            internal byte epoch_changed;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_received
        {
            internal UIntPtr struct_size;
            internal int kind;
            internal UIntPtr len;
            internal UIntPtr remaining;
            internal byte end_of_message;
        }

        [StructLayout(LayoutKind.Sequential)]
        internal struct wsx_close_info
        {
            internal UIntPtr struct_size;
            internal ushort code;
            internal IntPtr reason;
            internal UIntPtr reason_len;
            internal byte clean;
            internal byte normal;
            internal int origin;
            internal ushort sent_code;
            internal IntPtr sent_reason;
            internal UIntPtr sent_reason_len;
            internal ushort rcvd_code;
            internal IntPtr rcvd_reason;
            internal UIntPtr rcvd_reason_len;
        }

        // ---- callback signatures ----

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_free_user_data(IntPtr user_data);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_open(IntPtr user_data, IntPtr conn, wsx_open* open);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_message(IntPtr user_data, IntPtr conn, wsx_message* message);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_error(IntPtr user_data, IntPtr conn, wsx_error* error);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_close(IntPtr user_data, IntPtr conn, wsx_close* close);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_writable(IntPtr user_data, IntPtr conn);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_readable(IntPtr user_data, IntPtr conn);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_connecting(IntPtr user_data, IntPtr conn, wsx_connecting* connecting);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_disconnect(IntPtr user_data, IntPtr conn, wsx_close* close);

        /// <summary><c>attempt</c> is a <c>wsx_attempt*</c>, valid during the call only.</summary>
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_before_connect(IntPtr user_data, IntPtr conn, IntPtr attempt);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_upgrade(IntPtr user_data, IntPtr upgrade, wsx_request* request);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_server_error(IntPtr user_data, wsx_error* error);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_shutdown(IntPtr user_data);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_cluster_state(IntPtr user_data, wsx_cluster_state_event* state);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_cluster_gap(IntPtr user_data, wsx_cluster_gap* gap);

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_slow_subscriber(IntPtr user_data, wsx_slow_subscriber_event* slow);

        // ---- results, version, debugging ----

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr wsx_result_str(int result);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr wsx_last_error_message();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr wsx_version();

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_debug_live_objects(wsx_live_objects* out_counts);

        // ---- loop ----

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_loop_new(out LoopHandle out_loop);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void wsx_loop_free(IntPtr loop);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_loop_poll(LoopHandle loop, int timeout_ms);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_loop_run(LoopHandle loop);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_loop_start_thread(LoopHandle loop);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_loop_stop(LoopHandle loop);

        // ---- clients and their connect attempts ----

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_loop_connect(LoopHandle loop, byte[] url, ClientOptionsHandle options, ref wsx_conn_callbacks callbacks, out ConnHandle out_conn);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern uint wsx_attempt_number(IntPtr attempt);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_attempt_set_header(IntPtr attempt, byte[] name, byte[] value);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_attempt_defer(IntPtr attempt, out PendingAttemptHandle out_pending);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_pending_attempt_proceed(PendingAttemptHandle pending, wsx_header* headers, UIntPtr headers_len);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void wsx_pending_attempt_free(IntPtr pending);

        // ---- connections ----

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr wsx_conn_retain(IntPtr conn);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void wsx_conn_release(IntPtr conn);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_send(ConnHandle conn, uint kind, byte* data, UIntPtr len);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_send_ex(ConnHandle conn, uint kind, byte* data, UIntPtr len, uint flags);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_send_fragment(ConnHandle conn, uint kind, byte* data, UIntPtr len, [MarshalAs(UnmanagedType.U1)] bool fin);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_send_fragment_ex(ConnHandle conn, uint kind, byte* data, UIntPtr len, [MarshalAs(UnmanagedType.U1)] bool fin, uint flags);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_abort(ConnHandle conn);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_send_timeout(ConnHandle conn, uint kind, byte* data, UIntPtr len, uint flags, int timeout_ms);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_recv(ConnHandle conn, byte* buf, UIntPtr cap, wsx_received* out_received);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_recv_timeout(ConnHandle conn, byte* buf, UIntPtr cap, int timeout_ms, wsx_received* out_received);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr wsx_conn_inbox_len(ConnHandle conn);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_peer_identity(IntPtr conn, wsx_peer_identity* out_identity);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_close_info(ConnHandle conn, wsx_close_info* out_info);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_ping(ConnHandle conn, byte* data, UIntPtr len);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_close(ConnHandle conn, ushort code, byte[] reason);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ulong wsx_conn_id(IntPtr conn);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern int wsx_conn_state(ConnHandle conn);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_set_reading_paused(ConnHandle conn, [MarshalAs(UnmanagedType.U1)] bool paused);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern UIntPtr wsx_conn_buffered_amount(ConnHandle conn);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern long wsx_conn_rtt_us(ConnHandle conn);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_peer_addr(ConnHandle conn, byte* out_buf, UIntPtr buf_len);

        // ---- publish/subscribe ----

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_subscribe(ConnHandle conn, byte[] topic);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_unsubscribe(ConnHandle conn, byte[] topic, [MarshalAs(UnmanagedType.U1)] out bool out_was_subscribed);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_publish(ServerHandle server, byte[] topic, uint kind, byte* data, UIntPtr len, IntPtr skip, out UIntPtr out_count);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_subscribers(ServerHandle server, byte[] topic, out UIntPtr out_count);

        // ---- defaults ----

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_defaults_get(wsx_defaults* out_defaults);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_deflate_options_default(wsx_deflate_options* out_options);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_inbox_options_default(wsx_inbox_options* out_options);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_reconnect_options_default(wsx_reconnect_options* out_options);

        // ---- client options ----

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_client_options_new(out ClientOptionsHandle out_options);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void wsx_client_options_free(IntPtr options);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr wsx_client_options_conn(ClientOptionsHandle options);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_client_options_set_connect_timeout_ms(ClientOptionsHandle options, uint ms);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_client_options_add_header(ClientOptionsHandle options, byte[] name, byte[] value);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_client_options_set_origin(ClientOptionsHandle options, byte[] origin);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_client_options_set_tls_ca_file(ClientOptionsHandle options, byte[] path);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_client_options_set_tls_client_cert(ClientOptionsHandle options, byte[] cert_file, byte[] key_file);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_client_options_set_tls_danger_disable_verification(ClientOptionsHandle options, [MarshalAs(UnmanagedType.U1)] bool disable);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_client_options_set_reconnect(ClientOptionsHandle options, wsx_reconnect_options* reconnect);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_client_options_set_reconnect_codes(ClientOptionsHandle options, ushort* codes, UIntPtr count);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_client_options_set_proxy(ClientOptionsHandle options, byte[] url);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_client_options_set_proxy_from_env(ClientOptionsHandle options, [MarshalAs(UnmanagedType.U1)] bool on);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_client_options_set_unix_socket_path(ClientOptionsHandle options, byte[] path);

        // ---- server options ----

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_options_new(out ServerOptionsHandle out_options);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void wsx_server_options_free(IntPtr options);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr wsx_server_options_conn(ServerOptionsHandle options);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_options_set_host(ServerOptionsHandle options, byte[] host);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_options_set_port(ServerOptionsHandle options, ushort port);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_options_add_origin(ServerOptionsHandle options, byte[] origin);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_options_set_tls(ServerOptionsHandle options, byte[] cert_file, byte[] key_file);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_options_set_max_connections(ServerOptionsHandle options, UIntPtr max);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_options_set_max_pending_handshakes(ServerOptionsHandle options, UIntPtr max);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_options_set_tls_client_auth(ServerOptionsHandle options, byte[] ca_file, [MarshalAs(UnmanagedType.U1)] bool required, byte[] crl_file);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_options_set_plain_http(ServerOptionsHandle options, [MarshalAs(UnmanagedType.U1)] bool enabled);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_options_set_reuse_port(ServerOptionsHandle options, [MarshalAs(UnmanagedType.U1)] bool enabled);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_options_set_loops(ServerOptionsHandle options, UIntPtr loops);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_options_set_unix_socket(ServerOptionsHandle options, byte[] path, [MarshalAs(UnmanagedType.U1)] bool removeStale);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_options_set_slow_subscriber(ServerOptionsHandle options, uint policy);

        // ---- the settings client and server connections share (wsx_conn_options*, borrowed from the options above) ----

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_set_max_message_size(IntPtr options, UIntPtr bytes);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_set_max_frame_size(IntPtr options, UIntPtr bytes);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_set_auto_pong(IntPtr options, [MarshalAs(UnmanagedType.U1)] bool on);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_set_streaming(IntPtr options, [MarshalAs(UnmanagedType.U1)] bool on);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_set_reject_binary(IntPtr options, [MarshalAs(UnmanagedType.U1)] bool on);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_set_handshake_limits(IntPtr options, UIntPtr max_bytes, UIntPtr max_headers);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_add_subprotocol(IntPtr options, byte[] name);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_set_handshake_timeout_ms(IntPtr options, uint ms);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_set_close_timeout_ms(IntPtr options, uint ms);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_set_keepalive(IntPtr options, uint interval_ms, uint timeout_ms);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_set_idle_timeout_ms(IntPtr options, uint ms);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_set_backpressure(IntPtr options, UIntPtr high_water, UIntPtr low_water);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_set_nodelay(IntPtr options, [MarshalAs(UnmanagedType.U1)] bool on);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_set_compression(IntPtr options, wsx_deflate_options* deflate);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_conn_options_set_inbox(IntPtr options, wsx_inbox_options* inbox);

        // ---- servers and the upgrade decision ----

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_loop_listen(LoopHandle loop, ServerOptionsHandle options, ref wsx_server_callbacks callbacks, out ServerHandle out_server);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void wsx_server_free(IntPtr server);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ushort wsx_server_port(ServerHandle server);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_local_addr(ServerHandle server, byte* out_buf, UIntPtr buf_len);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_shutdown(ServerHandle server, uint timeout_ms);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_options_set_cluster(ServerOptionsHandle options, wsx_cluster_options* cluster);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_cluster_state(ServerHandle server, out int out_state);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_cluster_stats(ServerHandle server, wsx_cluster_stats* out_stats);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_cluster_node_id(ServerHandle server, byte* out_buf, UIntPtr buf_len);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_server_drain(ServerHandle server, ushort code, byte[] reason, uint timeout_ms);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_upgrade_respond(IntPtr upgrade, ushort status, wsx_header* headers, UIntPtr headers_len, byte* body, UIntPtr body_len);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_pending_upgrade_respond(PendingUpgradeHandle pending, ushort status, wsx_header* headers, UIntPtr headers_len, byte* body, UIntPtr body_len);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_upgrade_refuse(IntPtr upgrade, ushort status, byte[] reason);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_upgrade_set_subprotocol(IntPtr upgrade, byte[] name);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_upgrade_add_header(IntPtr upgrade, byte[] name, byte[] value);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_upgrade_set_callbacks(IntPtr upgrade, ref wsx_conn_callbacks callbacks);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_upgrade_defer(IntPtr upgrade, out PendingUpgradeHandle out_pending);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_pending_upgrade_accept(PendingUpgradeHandle pending);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_pending_upgrade_accept_with(PendingUpgradeHandle pending, byte[] subprotocol, wsx_header* headers, UIntPtr headers_len);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_pending_upgrade_refuse(PendingUpgradeHandle pending, ushort status, byte[] reason, wsx_header* headers, UIntPtr headers_len);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void wsx_pending_upgrade_free(IntPtr pending);
    }
}
