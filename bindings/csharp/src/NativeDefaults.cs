using System;
using System.Runtime.InteropServices;

namespace Wsx
{
    /// <summary>
    /// The native library's defaults of every option (<c>wsx_defaults_get</c>,
    /// <c>wsx_deflate_options_default</c>, <c>wsx_reconnect_options_default</c>), read once:
    /// the option classes start from them and write no default of their own.
    /// </summary>
    internal static class NativeDefaults
    {
        /// <summary>The defaults of the client and server options.</summary>
        internal static readonly NativeMethods.wsx_defaults Options = Load();

        /// <summary>The default permessage-deflate settings.</summary>
        internal static readonly NativeMethods.wsx_deflate_options Deflate = LoadDeflate();

        /// <summary>The default reconnect policy.</summary>
        internal static readonly NativeMethods.wsx_reconnect_options Reconnect = LoadReconnect();

        /// <summary>The default marks of the pull-mode inbox.</summary>
        internal static readonly NativeMethods.wsx_inbox_options Inbox = LoadInbox();

        /// <summary>The address a server listens on by default.</summary>
        internal static readonly string ServerHost = Native.String(Options.server_host);

        static unsafe NativeMethods.wsx_defaults Load()
        {
            var defaults = new NativeMethods.wsx_defaults { struct_size = (UIntPtr)sizeof(NativeMethods.wsx_defaults) };
            Native.Check(NativeMethods.wsx_defaults_get(&defaults));
            return defaults;
        }

        static unsafe NativeMethods.wsx_deflate_options LoadDeflate()
        {
            var deflate = new NativeMethods.wsx_deflate_options { struct_size = (UIntPtr)sizeof(NativeMethods.wsx_deflate_options) };
            Native.Check(NativeMethods.wsx_deflate_options_default(&deflate));
            return deflate;
        }

        static unsafe NativeMethods.wsx_reconnect_options LoadReconnect()
        {
            var reconnect = new NativeMethods.wsx_reconnect_options { struct_size = (UIntPtr)sizeof(NativeMethods.wsx_reconnect_options) };
            Native.Check(NativeMethods.wsx_reconnect_options_default(&reconnect));
            return reconnect;
        }

        static unsafe NativeMethods.wsx_inbox_options LoadInbox()
        {
            var inbox = new NativeMethods.wsx_inbox_options { struct_size = (UIntPtr)sizeof(NativeMethods.wsx_inbox_options) };
            Native.Check(NativeMethods.wsx_inbox_options_default(&inbox));
            return inbox;
        }

        /// <summary>Milliseconds as a time span.</summary>
        internal static TimeSpan Ms(uint ms)
        {
            return TimeSpan.FromMilliseconds(ms);
        }
    }
}
