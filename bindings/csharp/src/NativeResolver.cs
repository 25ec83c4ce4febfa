// The raw imports of the application's resolver (include/wsx.h: wsx_on_resolve,
// wsx_client_options_set_resolver, wsx_resolution_*), one to one. A part of NativeMethods kept
// in a file of its own so the rest of NativeMethods.cs stays untouched.
#pragma warning disable IDE1006 // C names on purpose

using System;
using System.Runtime.InteropServices;

namespace Wsx
{
    internal static partial class NativeMethods
    {
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
        internal delegate void wsx_on_resolve(IntPtr user_data, IntPtr resolution);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_client_options_set_resolver(ClientOptionsHandle options, IntPtr resolve, IntPtr user_data, IntPtr free_user_data);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern IntPtr wsx_resolution_host(IntPtr resolution);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern ushort wsx_resolution_port(IntPtr resolution);

        // IP address literals are ASCII: LPStr marshals them the same on every platform.
        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_resolution_answer(IntPtr resolution,
            [MarshalAs(UnmanagedType.LPArray, ArraySubType = UnmanagedType.LPStr)] string[] addresses, UIntPtr count);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern WsxResult wsx_resolution_fail(IntPtr resolution, byte[] reason);

        [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
        internal static extern void wsx_resolution_free(IntPtr resolution);
    }
}
