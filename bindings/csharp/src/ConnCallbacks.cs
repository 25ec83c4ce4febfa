using System;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Runtime.InteropServices;

namespace Wsx
{
    /// <summary>
    /// The native callbacks of every connection, client or server side. The delegates live in
    /// static readonly fields, so they are never collected; <c>user_data</c> is a
    /// <see cref="GCHandle"/> to the <see cref="WsxConnection"/>, freed by <c>free_user_data</c>
    /// once the library lets go of the connection. They run on the loop thread and catch
    /// everything: no exception unwinds into native frames. Once the process exits
    /// (<see cref="NativeLoop.EnterCallback"/>) they do nothing but free the handles.
    /// </summary>
    internal static unsafe class ConnCallbacks
    {
        static readonly NativeMethods.wsx_on_open OpenDelegate = OnOpen;
        static readonly NativeMethods.wsx_on_readable ReadableDelegate = OnReadable;
        static readonly NativeMethods.wsx_on_writable WritableDelegate = OnWritable;
        static readonly NativeMethods.wsx_on_error ErrorDelegate = OnError;
        static readonly NativeMethods.wsx_on_close CloseDelegate = OnClose;
        static readonly NativeMethods.wsx_free_user_data FreeDelegate = FreeUserData;
        static readonly NativeMethods.wsx_on_connecting ConnectingDelegate = OnConnecting;
        static readonly NativeMethods.wsx_on_disconnect DisconnectDelegate = OnDisconnect;
        static readonly NativeMethods.wsx_on_before_connect BeforeConnectDelegate = OnBeforeConnect;

        static readonly NativeMethods.wsx_conn_callbacks Table = new NativeMethods.wsx_conn_callbacks
        {
            struct_size = (UIntPtr)Marshal.SizeOf(typeof(NativeMethods.wsx_conn_callbacks)),
            on_open = Marshal.GetFunctionPointerForDelegate(OpenDelegate),
            on_readable = Marshal.GetFunctionPointerForDelegate(ReadableDelegate),
            on_writable = Marshal.GetFunctionPointerForDelegate(WritableDelegate),
            on_error = Marshal.GetFunctionPointerForDelegate(ErrorDelegate),
            on_close = Marshal.GetFunctionPointerForDelegate(CloseDelegate),
            free_user_data = Marshal.GetFunctionPointerForDelegate(FreeDelegate),
        };

        /// <summary>
        /// The callbacks of one connection, with <paramref name="target"/> (freed by the library's
        /// free_user_data) as user_data; a client's also have the connect-attempt callbacks.
        /// No on_message: every connection is in pull mode (on_readable, then wsx_conn_recv).
        /// </summary>
        internal static NativeMethods.wsx_conn_callbacks For(GCHandle target, bool client)
        {
            var table = Table;
            table.user_data = GCHandle.ToIntPtr(target);
            if (client)
            {
                table.on_connecting = Marshal.GetFunctionPointerForDelegate(ConnectingDelegate);
                table.on_disconnect = Marshal.GetFunctionPointerForDelegate(DisconnectDelegate);
                table.on_before_connect = Marshal.GetFunctionPointerForDelegate(BeforeConnectDelegate);
            }
            return table;
        }

        internal static readonly IntPtr FreeUserDataPointer = Table.free_user_data;

        static WsxConnection Target(IntPtr userData)
        {
            return (WsxConnection)GCHandle.FromIntPtr(userData).Target;
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_open))]
        static void OnOpen(IntPtr userData, IntPtr conn, NativeMethods.wsx_open* open)
        {
            if (!NativeLoop.EnterCallback())
                return;
            try
            {
                Target(userData).HandleOpen(conn, OpenEvent.From(open));
            }
            catch (Exception e)
            {
                Report(userData, e);
            }
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_readable))]
        static void OnReadable(IntPtr userData, IntPtr conn)
        {
            if (!NativeLoop.EnterCallback())
                return;
            try
            {
                Target(userData).HandleReadable();
            }
            catch (Exception e)
            {
                Report(userData, e);
            }
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_writable))]
        static void OnWritable(IntPtr userData, IntPtr conn)
        {
            if (!NativeLoop.EnterCallback())
                return;
            try
            {
                Target(userData).HandleWritable();
            }
            catch (Exception e)
            {
                Report(userData, e);
            }
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_error))]
        static void OnError(IntPtr userData, IntPtr conn, NativeMethods.wsx_error* error)
        {
            if (!NativeLoop.EnterCallback())
                return;
            try
            {
                Target(userData).HandleError(Native.ErrorOf(error));
            }
            catch (Exception e)
            {
                Report(userData, e);
            }
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_close))]
        static void OnClose(IntPtr userData, IntPtr conn, NativeMethods.wsx_close* close)
        {
            if (!NativeLoop.EnterCallback())
                return;
            try
            {
                var description = Native.String(close->reason, close->reason_len);
                Target(userData).HandleClose((WebSocketCloseStatus)close->code, description, close->clean != 0);
            }
            catch (Exception e)
            {
                Report(userData, e);
            }
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_connecting))]
        static void OnConnecting(IntPtr userData, IntPtr conn, NativeMethods.wsx_connecting* connecting)
        {
            if (!NativeLoop.EnterCallback())
                return;
            try
            {
                var delay = TimeSpan.FromMilliseconds(connecting->delay_ms);
                ((WsxClient)Target(userData)).HandleConnecting(checked((int)connecting->attempt), delay);
            }
            catch (Exception e)
            {
                Report(userData, e);
            }
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_disconnect))]
        static void OnDisconnect(IntPtr userData, IntPtr conn, NativeMethods.wsx_close* close)
        {
            if (!NativeLoop.EnterCallback())
                return;
            try
            {
                var description = Native.String(close->reason, close->reason_len);
                ((WsxClient)Target(userData)).HandleDisconnect((WebSocketCloseStatus)close->code, description, close->clean != 0);
            }
            catch (Exception e)
            {
                Report(userData, e);
            }
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_before_connect))]
        static void OnBeforeConnect(IntPtr userData, IntPtr conn, IntPtr headers)
        {
            if (!NativeLoop.EnterCallback())
                return;
            try
            {
                ((WsxClient)Target(userData)).HandleBeforeConnect(headers);
            }
            catch (Exception e)
            {
                Report(userData, e);
            }
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_free_user_data))]
        static void FreeUserData(IntPtr userData)
        {
            try
            {
                GCHandle.FromIntPtr(userData).Free();
            }
            catch (Exception e)
            {
                Trace.TraceError("wsx: freeing user data failed: {0}", e);
            }
        }

        /// <summary>Hands a failure inside a callback to the connection's Error event, or traces it.</summary>
        static void Report(IntPtr userData, Exception error)
        {
            try
            {
                Target(userData).RaiseError(error);
            }
            catch (Exception again)
            {
                Trace.TraceError("wsx: a callback failed: {0} (then: {1})", error, again);
            }
        }
    }
}

namespace AOT
{
    /// <summary>
    /// Marks the static methods native code calls back, for ahead-of-time compilers (Unity
    /// IL2CPP, Xamarin) that recognise the attribute by name. The JIT ignores it.
    /// </summary>
    [AttributeUsage(AttributeTargets.Method)]
    internal sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        /// <summary>Marks a callback of delegate type <paramref name="type"/>.</summary>
        public MonoPInvokeCallbackAttribute(Type type)
        {
            Type = type;
        }

        /// <summary>The delegate type.</summary>
        public Type Type { get; }
    }
}
