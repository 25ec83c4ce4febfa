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
        internal static readonly NativeMethods.wsx_deflate_options Deflate = NativeMethods.wsx_deflate_options_default();

        /// <summary>The default reconnect policy.</summary>
        internal static readonly NativeMethods.wsx_reconnect_options Reconnect = NativeMethods.wsx_reconnect_options_default();

        /// <summary>The address a server listens on by default.</summary>
        internal static readonly string ServerHost = Native.String(Options.server_host);

        static NativeMethods.wsx_defaults Load()
        {
            NativeMethods.wsx_defaults defaults;
            Native.Check(NativeMethods.wsx_defaults_get(out defaults, (UIntPtr)Marshal.SizeOf(typeof(NativeMethods.wsx_defaults))));
            return defaults;
        }

        /// <summary>Milliseconds as a time span.</summary>
        internal static TimeSpan Ms(uint ms)
        {
            return TimeSpan.FromMilliseconds(ms);
        }
    }
}
