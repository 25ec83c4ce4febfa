using System;
using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Threading;

namespace Wsx
{
    /// <summary>
    /// Lets <c>WSX_NATIVE_LIBRARY</c> (a path to <c>libwsx.so</c>, <c>libwsx.dylib</c> or
    /// <c>wsx.dll</c>) choose the native library on runtimes that have
    /// <c>System.Runtime.InteropServices.NativeLibrary</c> (.NET Core 3.0 and later). It is
    /// found by reflection because netstandard2.0 lacks it. Elsewhere (Mono, Unity, .NET
    /// Framework) and without the variable, the runtime's own search applies: the NuGet
    /// package's <c>runtimes/&lt;rid&gt;/native/</c>, the application's directory, then the
    /// system's (<c>LD_LIBRARY_PATH</c>, <c>PATH</c>).
    /// </summary>
    internal static class NativeLibraryResolver
    {
        const string Variable = "WSX_NATIVE_LIBRARY";
        static int registered;
        static MethodInfo load;

        /// <summary>Installs the resolver once, where the runtime supports one.</summary>
        internal static void Register()
        {
            if (Interlocked.Exchange(ref registered, 1) != 0 || Environment.GetEnvironmentVariable(Variable) == null)
                return;
            var core = typeof(Marshal).Assembly;
            var nativeLibrary = core.GetType("System.Runtime.InteropServices.NativeLibrary", false);
            var resolverType = core.GetType("System.Runtime.InteropServices.DllImportResolver", false);
            if (nativeLibrary == null || resolverType == null)
                return;
            load = nativeLibrary.GetMethod("Load", new[] { typeof(string) });
            var set = nativeLibrary.GetMethod("SetDllImportResolver", new[] { typeof(Assembly), resolverType });
            var resolve = typeof(NativeLibraryResolver).GetMethod(nameof(Resolve), BindingFlags.NonPublic | BindingFlags.Static);
            if (load == null || set == null)
                return;
            try
            {
                set.Invoke(null, new object[] { typeof(NativeLibraryResolver).Assembly, Delegate.CreateDelegate(resolverType, resolve) });
            }
            catch (TargetInvocationException e)
            {
                // The application installed a resolver of its own for this assembly: it wins.
                Trace.TraceWarning("wsx: {0} is ignored: {1}", Variable, e.InnerException);
            }
        }

        static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
        {
            var path = Environment.GetEnvironmentVariable(Variable);
            if (name != NativeMethods.Library || string.IsNullOrEmpty(path))
                return IntPtr.Zero;
            return (IntPtr)load.Invoke(null, new object[] { path });
        }
    }
}
