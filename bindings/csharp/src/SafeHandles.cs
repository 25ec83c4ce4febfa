using System;
using System.Runtime.InteropServices;

namespace Wsx
{
    /// <summary>A native pointer released exactly once by its <c>wsx_*_free</c> function; NULL is invalid.</summary>
    internal abstract class WsxSafeHandle : SafeHandle
    {
        protected WsxSafeHandle()
            : base(IntPtr.Zero, ownsHandle: true)
        {
        }

        public override bool IsInvalid
        {
            get { return handle == IntPtr.Zero; }
        }
    }

    /// <summary>A <c>wsx_loop</c>; released with <c>wsx_loop_free</c> (stops and joins its thread).</summary>
    internal sealed class LoopHandle : WsxSafeHandle
    {
        protected override bool ReleaseHandle()
        {
            NativeMethods.wsx_loop_free(handle);
            return true;
        }
    }

    /// <summary>One reference to a <c>wsx_conn</c>; released with <c>wsx_conn_release</c> (which does not close it).</summary>
    internal sealed class ConnHandle : WsxSafeHandle
    {
        /// <summary>Takes one more reference to a connection a callback borrowed.</summary>
        internal static ConnHandle Retain(IntPtr borrowed)
        {
            var handle = new ConnHandle();
            handle.SetHandle(NativeMethods.wsx_conn_retain(borrowed));
            return handle;
        }

        protected override bool ReleaseHandle()
        {
            NativeMethods.wsx_conn_release(handle);
            return true;
        }
    }

    /// <summary>A <c>wsx_server</c>; released with <c>wsx_server_free</c>.</summary>
    /// <summary>A postponed client attempt (<c>wsx_attempt_defer</c>); freeing it undecided proceeds.</summary>
    internal sealed class PendingAttemptHandle : WsxSafeHandle
    {
        protected override bool ReleaseHandle()
        {
            NativeMethods.wsx_pending_attempt_free(handle);
            return true;
        }
    }

    /// <summary>A postponed handshake decision (<c>wsx_upgrade_defer</c>); freeing it undecided refuses with 500.</summary>
    internal sealed class PendingUpgradeHandle : WsxSafeHandle
    {
        protected override bool ReleaseHandle()
        {
            NativeMethods.wsx_pending_upgrade_free(handle);
            return true;
        }
    }

    internal sealed class ServerHandle : WsxSafeHandle
    {
        protected override bool ReleaseHandle()
        {
            NativeMethods.wsx_server_free(handle);
            return true;
        }
    }

    /// <summary>A <c>wsx_client_options</c>; released with <c>wsx_client_options_free</c>.</summary>
    internal sealed class ClientOptionsHandle : WsxSafeHandle
    {
        protected override bool ReleaseHandle()
        {
            NativeMethods.wsx_client_options_free(handle);
            return true;
        }
    }

    /// <summary>A <c>wsx_server_options</c>; released with <c>wsx_server_options_free</c>.</summary>
    internal sealed class ServerOptionsHandle : WsxSafeHandle
    {
        protected override bool ReleaseHandle()
        {
            NativeMethods.wsx_server_options_free(handle);
            return true;
        }
    }
}
