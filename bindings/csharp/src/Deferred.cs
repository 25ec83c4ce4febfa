using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;

namespace Wsx
{
    /// <summary>
    /// A handshake whose decision <see cref="WsxUpgradeEventArgs.Defer"/> postponed
    /// (<c>wsx_pending_upgrade</c>): decide it once, from any thread, before the server's
    /// handshake timeout passes, then dispose it (disposing it undecided refuses with 500).
    /// </summary>
    public sealed class WsxPendingUpgrade : IDisposable
    {
        readonly PendingUpgradeHandle handle;

        internal WsxPendingUpgrade(PendingUpgradeHandle handle)
        {
            this.handle = handle;
        }

        /// <summary>Accepts with the subprotocol and response headers set in the Upgrading handler.</summary>
        /// <exception cref="System.Net.WebSockets.WebSocketException">Decided already (InvalidState), or too late: the client left or the handshake timed out.</exception>
        public void Accept()
        {
            Native.Check(NativeMethods.wsx_pending_upgrade_accept(handle));
        }

        /// <summary>Accepts with <paramref name="subProtocol"/> (null: none) and these response headers instead.</summary>
        public unsafe void Accept(string subProtocol, IEnumerable<KeyValuePair<string, string>> headers)
        {
            using (var native = new NativeHeaders(headers))
                Native.Check(NativeMethods.wsx_pending_upgrade_accept_with(handle, Native.Utf8(subProtocol), native.Pointer, native.Count));
        }

        /// <summary>Refuses with an HTTP status 400-599, a short reason (null: none) and response headers (null: none).</summary>
        public unsafe void Refuse(int status, string reason, IEnumerable<KeyValuePair<string, string>> headers = null)
        {
            if (status < 0 || status > ushort.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(status), status, "an HTTP status fits in 16 bits");
            using (var native = new NativeHeaders(headers))
                Native.Check(NativeMethods.wsx_pending_upgrade_refuse(handle, (ushort)status, Native.Utf8(reason), native.Pointer, native.Count));
        }

        /// <summary>
        /// Answers with an HTTP response of its own (<c>wsx_pending_upgrade_respond</c>), as
        /// <see cref="WsxUpgradeEventArgs.Respond(int, IEnumerable{KeyValuePair{string, string}}, byte[])"/>
        /// does, with only these headers (not those added in the Upgrading handler). A bad status or
        /// header leaves it undecided.
        /// </summary>
        public unsafe void Respond(int status, IEnumerable<KeyValuePair<string, string>> headers = null, byte[] body = null)
        {
            HttpAnswer.Check(status);
            Native.Check(HttpAnswer.Call(headers, body, (h, n, b, len) => NativeMethods.wsx_pending_upgrade_respond(handle, (ushort)status, h, n, b, len)));
        }

        /// <summary>Answers with <paramref name="text"/> as a UTF-8 body (see the other overload).</summary>
        public void Respond(int status, string text, IEnumerable<KeyValuePair<string, string>> headers = null)
        {
            Respond(status, headers, text == null ? null : System.Text.Encoding.UTF8.GetBytes(text));
        }

        /// <summary>Releases the pending decision; undecided, the handshake is refused with 500.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }
    }

    /// <summary>
    /// A client connect attempt that <see cref="WsxBeforeConnectEventArgs.Defer"/> postponed
    /// (<c>wsx_pending_attempt</c>), so slow work such as fetching a token does not stall the loop:
    /// <see cref="Proceed"/> from any thread, then dispose it (disposing it first proceeds as is).
    /// </summary>
    public sealed class WsxPendingAttempt : IDisposable
    {
        readonly PendingAttemptHandle handle;

        internal WsxPendingAttempt(PendingAttemptHandle handle)
        {
            this.handle = handle;
        }

        /// <summary>Starts the attempt; <paramref name="headers"/> (null: keep the attempt's) replaces its extra request headers.</summary>
        public unsafe void Proceed(IEnumerable<KeyValuePair<string, string>> headers = null)
        {
            if (headers == null)
            {
                Native.Check(NativeMethods.wsx_pending_attempt_proceed(handle, null, UIntPtr.Zero));
                return;
            }
            using (var native = new NativeHeaders(headers))
                Native.Check(NativeMethods.wsx_pending_attempt_proceed(handle, native.Pointer, native.Count));
        }

        /// <summary>Releases the pending attempt; if it has not proceeded, it proceeds now.</summary>
        public void Dispose()
        {
            handle.Dispose();
        }
    }

    /// <summary>The shared part of <c>wsx_upgrade_respond</c> and <c>wsx_pending_upgrade_respond</c>.</summary>
    internal static unsafe class HttpAnswer
    {
        internal delegate WsxResult Respond(NativeMethods.wsx_header* headers, UIntPtr headersLen, byte* body, UIntPtr bodyLen);

        internal static void Check(int status)
        {
            if (status < 0 || status > ushort.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(status), status, "an HTTP status fits in 16 bits");
        }

        /// <summary>Calls <paramref name="respond"/> with the headers in native memory and the body pinned.</summary>
        internal static WsxResult Call(IEnumerable<KeyValuePair<string, string>> headers, byte[] body, Respond respond)
        {
            using (var native = new NativeHeaders(headers))
            {
                var bytes = body ?? new byte[0];
                fixed (byte* b = bytes)
                    return respond(native.Pointer, native.Count, bytes.Length == 0 ? null : b, (UIntPtr)bytes.Length);
            }
        }
    }

    /// <summary>A <c>wsx_header</c> array of NUL-terminated UTF-8 strings in unmanaged memory, for one call.</summary>
    internal sealed unsafe class NativeHeaders : IDisposable
    {
        readonly List<IntPtr> blocks = new List<IntPtr>();

        internal NativeHeaders(IEnumerable<KeyValuePair<string, string>> headers)
        {
            if (headers == null)
                return;
            var list = new List<KeyValuePair<string, string>>(headers);
            if (list.Count == 0)
                return;
            var array = Alloc(sizeof(NativeMethods.wsx_header) * list.Count);
            var entries = (NativeMethods.wsx_header*)array;
            for (int i = 0; i < list.Count; i++)
            {
                entries[i].name = Copy(list[i].Key ?? throw new ArgumentNullException(nameof(headers), "a header name is null"));
                entries[i].value = Copy(list[i].Value ?? "");
            }
            Pointer = entries;
            Count = (UIntPtr)list.Count;
        }

        internal NativeMethods.wsx_header* Pointer { get; }

        internal UIntPtr Count { get; }

        IntPtr Alloc(int bytes)
        {
            var block = Marshal.AllocHGlobal(bytes);
            blocks.Add(block);
            return block;
        }

        IntPtr Copy(string text)
        {
            var bytes = Native.Utf8(text);
            var block = Alloc(bytes.Length);
            Marshal.Copy(bytes, 0, block, bytes.Length);
            return block;
        }

        public void Dispose()
        {
            foreach (var block in blocks)
                Marshal.FreeHGlobal(block);
            blocks.Clear();
        }
    }
}
