using System;
using System.Diagnostics;
using System.IO;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Threading;

namespace Wsx
{
    /// <summary>
    /// Finds the native library without copying it beside the program.
    /// <list type="bullet">
    /// <item>.NET Core 3.0 and later (<c>System.Runtime.InteropServices.NativeLibrary</c>, found by
    /// reflection because netstandard2.0 lacks it): a resolver loads, in order,
    /// <c>WSX_NATIVE_LIBRARY</c> (a path), then <c>runtimes/&lt;rid&gt;/native/</c> beside
    /// Wsx.dll or under the application's base directory (the NuGet package's layout, also
    /// when the files are copied rather than restored), then leaves it to the runtime's own search
    /// (deps.json, the application directory, <c>LD_LIBRARY_PATH</c>, <c>PATH</c>).</item>
    /// <item>Mono (and Unity's Mono): <c>Wsx.dll.config</c> beside Wsx.dll maps <c>wsx</c> to
    /// <c>runtimes/&lt;rid&gt;/native/libwsx.*</c> relative to Wsx.dll (a <c>&lt;dllmap&gt;</c>);
    /// without that file, Mono searches the application directory and <c>LD_LIBRARY_PATH</c>
    /// (<c>DYLD_LIBRARY_PATH</c> on macOS). Mono has no resolver hook, so <c>WSX_NATIVE_LIBRARY</c>
    /// does not apply there (a library loaded beforehand by path is not matched by name).</item>
    /// </list>
    /// </summary>
    internal static class NativeLibraryResolver
    {
        const string Variable = "WSX_NATIVE_LIBRARY";
        static int registered;
        static MethodInfo tryLoad;

        /// <summary>Installs the resolver once, where the runtime supports one.</summary>
        internal static void Register()
        {
            if (Interlocked.Exchange(ref registered, 1) != 0)
                return;
            var core = typeof(Marshal).Assembly;
            var nativeLibrary = core.GetType("System.Runtime.InteropServices.NativeLibrary", false);
            var resolverType = core.GetType("System.Runtime.InteropServices.DllImportResolver", false);
            if (nativeLibrary == null || resolverType == null)
                return; // Mono, Unity, .NET Framework: Wsx.dll.config's dllmap, or the system's search.
            tryLoad = nativeLibrary.GetMethod("TryLoad", new[] { typeof(string), typeof(IntPtr).MakeByRefType() });
            var set = nativeLibrary.GetMethod("SetDllImportResolver", new[] { typeof(Assembly), resolverType });
            var resolve = typeof(NativeLibraryResolver).GetMethod(nameof(Resolve), BindingFlags.NonPublic | BindingFlags.Static);
            if (tryLoad == null || set == null)
                return;
            try
            {
                set.Invoke(null, new object[] { typeof(NativeLibraryResolver).Assembly, Delegate.CreateDelegate(resolverType, resolve) });
            }
            catch (TargetInvocationException e)
            {
                // The application installed a resolver of its own for this assembly: it wins.
                Trace.TraceWarning("wsx: the native library resolver is not installed: {0}", e.InnerException);
            }
        }

        static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
        {
            if (name != NativeMethods.Library)
                return IntPtr.Zero;
            foreach (var path in Candidates())
            {
                var args = new object[] { path, IntPtr.Zero };
                if ((bool)tryLoad.Invoke(null, args))
                    return (IntPtr)args[1];
            }
            return IntPtr.Zero;
        }

        /// <summary>The paths to try, in order: the variable, then runtimes/&lt;rid&gt;/native/ beside Wsx.dll and under the base directory.</summary>
        internal static System.Collections.Generic.IEnumerable<string> Candidates()
        {
            var variable = Environment.GetEnvironmentVariable(Variable);
            if (!string.IsNullOrEmpty(variable))
                yield return variable;
            var file = FileName();
            var rid = Rid();
            if (file == null || rid == null)
                yield break;
            var relative = Path.Combine("runtimes", rid, "native", file);
            var here = Path.GetDirectoryName(typeof(NativeLibraryResolver).Assembly.Location);
            if (!string.IsNullOrEmpty(here) && File.Exists(Path.Combine(here, relative)))
                yield return Path.Combine(here, relative);
            var baseDirectory = AppDomain.CurrentDomain.BaseDirectory;
            if (!string.IsNullOrEmpty(baseDirectory) && baseDirectory != here && File.Exists(Path.Combine(baseDirectory, relative)))
                yield return Path.Combine(baseDirectory, relative);
        }

        /// <summary>The native library's file name on this system.</summary>
        static string FileName()
        {
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Windows))
                return "wsx.dll";
            if (RuntimeInformation.IsOSPlatform(OSPlatform.OSX))
                return "libwsx.dylib";
            if (RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
                return "libwsx.so";
            return null;
        }

        /// <summary>The runtime identifier of the NuGet layout: linux-x64, osx-arm64, win-x64, ...</summary>
        internal static string Rid()
        {
            string os = RuntimeInformation.IsOSPlatform(OSPlatform.Windows) ? "win"
                : RuntimeInformation.IsOSPlatform(OSPlatform.OSX) ? "osx"
                : RuntimeInformation.IsOSPlatform(OSPlatform.Linux) ? "linux" : null;
            string arch;
            switch (RuntimeInformation.ProcessArchitecture)
            {
                case Architecture.X64:
                    arch = "x64";
                    break;
                case Architecture.Arm64:
                    arch = "arm64";
                    break;
                case Architecture.X86:
                    arch = "x86";
                    break;
                case Architecture.Arm:
                    arch = "arm";
                    break;
                default:
                    arch = null;
                    break;
            }
            return os == null || arch == null ? null : os + "-" + arch;
        }
    }
}
