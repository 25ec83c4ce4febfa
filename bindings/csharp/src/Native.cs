using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;

namespace Wsx
{
    /// <summary>The native <c>wsx_conn_state</c>.</summary>
    internal enum NativeState
    {
        Connecting = 0,
        Open = 1,
        Closing = 2,
        Closed = 3,
    }

    /// <summary>How a connection ended (<c>wsx_conn_close_info</c>), copied.</summary>
    internal sealed class NativeCloseInfo
    {
        internal NativeCloseInfo(int code, string reason, bool clean)
        {
            Code = code;
            Reason = reason;
            Clean = clean;
        }

        internal int Code { get; }
        internal string Reason { get; }
        internal bool Clean { get; }
    }

    /// <summary>What one <c>wsx_conn_recv</c> copied out.</summary>
    internal struct NativeReceived
    {
        internal int Count;
        internal System.Net.WebSockets.WebSocketMessageType Type;
        internal bool EndOfMessage;
        /// <summary>How much of the message follows (<c>remaining</c>).</summary>
        internal long Remaining;
    }

    /// <summary>Conversions at the native boundary: results to exceptions, strings to and from UTF-8.</summary>
    internal static class Native
    {
        /// <summary>Throws a WebSocketException (with a <see cref="WsxException"/> inside) for a failed call, with this thread's last error message.</summary>
        internal static void Check(WsxResult result)
        {
            if (result != WsxResult.Ok)
                throw Failure(result);
        }

        /// <summary>The exception for a failed call, with this thread's last error message (read it at once).</summary>
        internal static System.Net.WebSockets.WebSocketException Failure(WsxResult result)
        {
            var message = String(NativeMethods.wsx_last_error_message());
            return WsxException.Create(result, string.IsNullOrEmpty(message) ? ResultText(result) : message);
        }

        /// <summary>The library's static text for a result code.</summary>
        internal static string ResultText(WsxResult result)
        {
            return String(NativeMethods.wsx_result_str((int)result));
        }

        /// <summary><paramref name="text"/> as NUL-terminated UTF-8, or null for null.</summary>
        internal static byte[] Utf8(string text)
        {
            if (text == null)
                return null;
            var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
            Encoding.UTF8.GetBytes(text, 0, text.Length, bytes, 0);
            return bytes;
        }

        /// <summary>A NUL-terminated UTF-8 string the library owns, copied; null for NULL.</summary>
        internal static unsafe string String(IntPtr text)
        {
            if (text == IntPtr.Zero)
                return null;
            var bytes = (byte*)text;
            int length = 0;
            while (bytes[length] != 0)
                length++;
            return Encoding.UTF8.GetString(bytes, length);
        }

        /// <summary>UTF-8 of a known length the library owns, copied.</summary>
        internal static unsafe string String(IntPtr text, UIntPtr length)
        {
            return length == UIntPtr.Zero ? "" : Encoding.UTF8.GetString((byte*)text, checked((int)length));
        }

        /// <summary>Bytes the library lends for a callback, copied into a new array.</summary>
        internal static byte[] Bytes(IntPtr data, UIntPtr length)
        {
            var bytes = new byte[checked((int)length)];
            if (bytes.Length > 0)
                System.Runtime.InteropServices.Marshal.Copy(data, bytes, 0, bytes.Length);
            return bytes;
        }

        /// <summary>Sends the bytes of <paramref name="data"/> (pinned for the call; the library copies them).</summary>
        internal static unsafe WsxResult Send(ConnHandle conn, uint kind, ArraySegment<byte> data, WsxSendFlags flags)
        {
            fixed (byte* bytes = data.Array)
                return NativeMethods.wsx_conn_send_ex(conn, kind, bytes + data.Offset, (UIntPtr)data.Count, SendFlags(flags));
        }

        /// <summary>The library's state of a connection.</summary>
        internal static NativeState State(ConnHandle conn)
        {
            return (NativeState)NativeMethods.wsx_conn_state(conn);
        }

        /// <summary>How the connection ended, or null while it runs (WSX_ERR_STATE).</summary>
        internal static unsafe NativeCloseInfo CloseInfoOf(ConnHandle conn)
        {
            var info = new NativeMethods.wsx_close_info { struct_size = (UIntPtr)sizeof(NativeMethods.wsx_close_info) };
            if (NativeMethods.wsx_conn_close_info(conn, &info) != WsxResult.Ok)
                return null;
            return new NativeCloseInfo(info.code, String(info.reason, info.reason_len), info.clean != 0);
        }

        /// <summary>Copies the next message, or its next part, into <paramref name="buffer"/> without waiting.</summary>
        internal static unsafe WsxResult Receive(ConnHandle conn, ArraySegment<byte> buffer, out NativeReceived received)
        {
            var info = new NativeMethods.wsx_received { struct_size = (UIntPtr)sizeof(NativeMethods.wsx_received) };
            WsxResult result;
            // cap 0 with NULL tells the next message's kind and size without taking anything.
            fixed (byte* bytes = buffer.Array)
                result = NativeMethods.wsx_conn_recv(conn, buffer.Count == 0 ? null : bytes + buffer.Offset, (UIntPtr)buffer.Count, &info);
            received = new NativeReceived
            {
                Count = checked((int)info.len),
                Type = info.kind == (int)NativeMethods.WSX_MSG_TEXT
                    ? System.Net.WebSockets.WebSocketMessageType.Text
                    : System.Net.WebSockets.WebSocketMessageType.Binary,
                EndOfMessage = info.end_of_message != 0,
                Remaining = (long)(ulong)info.remaining,
            };
            return result;
        }

        /// <summary>The peer's address, or null before it is known.</summary>
        internal static unsafe string PeerAddress(ConnHandle conn)
        {
            // 64 bytes hold an IP address and port; a Unix socket's "unix:" and path need up to 113.
            var buffer = stackalloc byte[128];
            return NativeMethods.wsx_conn_peer_addr(conn, buffer, (UIntPtr)128) == WsxResult.Ok ? String((IntPtr)buffer) : null;
        }

        /// <summary>Ends a connection without waiting (Abort, Dispose).</summary>
        internal static void Drop(ConnHandle conn)
        {
            NativeMethods.wsx_conn_abort(conn);
        }

        /// <summary>An error event (<c>wsx_error</c>) as wsx throws it, with all it carries.</summary>
        internal static unsafe System.Net.WebSockets.WebSocketException ErrorOf(NativeMethods.wsx_error* error)
        {
            var status = error->http_status == 0 ? (int?)null : error->http_status;
            IReadOnlyDictionary<string, IEnumerable<string>> headers = null;
            byte[] body = null;
            if (status.HasValue)
            {
                headers = OpenEvent.HeaderDictionary(error->headers, error->headers_len);
                body = new byte[checked((int)(ulong)error->body_len)];
                if (body.Length > 0)
                    Marshal.Copy(error->body, body, 0, body.Length);
            }
            return new WsxException(error->code, String(error->message), status, (WsxTimeout)error->timeout,
                error->os_error, headers, body).ToWebSocketException();
        }

        /// <summary>Sends one piece of a message (<c>wsx_conn_send_fragment_ex</c>).</summary>
        internal static unsafe WsxResult SendFragment(ConnHandle conn, uint kind, ArraySegment<byte> data, bool fin, WsxSendFlags flags)
        {
            fixed (byte* bytes = data.Array)
                return NativeMethods.wsx_conn_send_fragment_ex(conn, kind, bytes + data.Offset, (UIntPtr)data.Count, fin, SendFlags(flags));
        }

        /// <summary>The <c>WSX_SEND_*</c> bits of <paramref name="flags"/>; unknown bits pass through for the library to refuse.</summary>
        internal static uint SendFlags(WsxSendFlags flags)
        {
            var bits = (uint)flags & ~(uint)WsxSendFlags.DisableCompression;
            if ((flags & WsxSendFlags.DisableCompression) != 0)
                bits |= NativeMethods.WSX_SEND_NO_COMPRESS;
            return bits;
        }

        /// <summary>The native <c>wsx_msg_kind</c> of a data message type.</summary>
        internal static uint MessageKind(System.Net.WebSockets.WebSocketMessageType messageType, string parameterName)
        {
            switch (messageType)
            {
                case System.Net.WebSockets.WebSocketMessageType.Text:
                    return NativeMethods.WSX_MSG_TEXT;
                case System.Net.WebSockets.WebSocketMessageType.Binary:
                    return NativeMethods.WSX_MSG_BINARY;
                default:
                    throw new ArgumentException("send Text or Binary; use CloseAsync to close", parameterName);
            }
        }
    }
}
