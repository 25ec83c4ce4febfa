using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks;

namespace Wsx
{
    /// <summary>
    /// Resolves <paramref name="host"/> for a connect attempt, in place of the system resolver
    /// (<see cref="WsxClientOptions.Resolver"/>): a service directory, DNS over HTTPS, a test's fixed
    /// answers. Returns the addresses to try; <paramref name="port"/> is the URL's (or the proxy's),
    /// for endpoints that have no other. It is called on the library's loop thread, so it must
    /// return quickly: start the lookup and return its task (<c>Task.FromResult</c> for an answer
    /// at hand). A faulted task, or no address, fails the attempt as a name that did not resolve
    /// (<see cref="WsxResult.Dns"/>).
    /// </summary>
    public delegate Task<IEnumerable<IPEndPoint>> WsxResolver(string host, int port);

    /// <summary>
    /// The native resolver callback: it asks the <see cref="WsxResolver"/> held by a GCHandle
    /// (freed by the library's free_user_data once no options or connection use it) and answers
    /// the library's <c>wsx_resolution</c> when the task completes. No exception unwinds into
    /// native frames: a failure fails the lookup.
    /// </summary>
    internal static class ResolverCallbacks
    {
        static readonly NativeMethods.wsx_on_resolve ResolveDelegate = OnResolve;
        static readonly IntPtr ResolvePointer = Marshal.GetFunctionPointerForDelegate(ResolveDelegate);

        /// <summary>Gives the native options <paramref name="resolver"/> (nothing for null: the system's).</summary>
        internal static void Set(ClientOptionsHandle native, WsxResolver resolver)
        {
            if (resolver == null)
                return;
            // The library owns the handle from the call on, also if it fails.
            var handle = GCHandle.ToIntPtr(GCHandle.Alloc(resolver));
            Native.Check(NativeMethods.wsx_client_options_set_resolver(native, ResolvePointer, handle, ConnCallbacks.FreeUserDataPointer));
        }

        [AOT.MonoPInvokeCallback(typeof(NativeMethods.wsx_on_resolve))]
        static void OnResolve(IntPtr userData, IntPtr resolution)
        {
            if (!NativeLoop.EnterCallback())
            {
                // The process exits: start no lookup task.
                Fail(resolution, new ObjectDisposedException("wsx loop", "the process is shutting down"));
                return;
            }
            try
            {
                var resolver = (WsxResolver)GCHandle.FromIntPtr(userData).Target;
                var host = Native.String(NativeMethods.wsx_resolution_host(resolution));
                var task = resolver(host, NativeMethods.wsx_resolution_port(resolution));
                if (task == null)
                    throw new InvalidOperationException("the resolver returned no task");
                task.ContinueWith(done => Answer(resolution, done), TaskContinuationOptions.ExecuteSynchronously);
            }
            catch (Exception e)
            {
                Fail(resolution, e);
            }
        }

        static void Answer(IntPtr resolution, Task<IEnumerable<IPEndPoint>> done)
        {
            try
            {
                if (done.IsFaulted || done.IsCanceled)
                {
                    Fail(resolution, done.IsFaulted ? done.Exception.InnerException : new TaskCanceledException());
                    return;
                }
                var addresses = (done.Result ?? Enumerable.Empty<IPEndPoint>()).Select(Text).ToArray();
                var result = NativeMethods.wsx_resolution_answer(resolution, addresses, (UIntPtr)addresses.Length);
                if (result != WsxResult.Ok)
                    Fail(resolution, Native.Failure(result));
                else
                    NativeMethods.wsx_resolution_free(resolution);
            }
            catch (Exception e)
            {
                Fail(resolution, e);
            }
        }

        /// <summary>Fails the lookup with the exception's message, and frees the resolution.</summary>
        static void Fail(IntPtr resolution, Exception error)
        {
            try
            {
                NativeMethods.wsx_resolution_fail(resolution, Native.Utf8(error.Message));
                NativeMethods.wsx_resolution_free(resolution);
            }
            catch (Exception again)
            {
                Trace.TraceError("wsx: failing a lookup failed: {0} (after: {1})", again, error);
            }
        }

        /// <summary>"127.0.0.1:80" or "[::1]:80", as the library parses it.</summary>
        static string Text(IPEndPoint endpoint)
        {
            if (endpoint == null)
                throw new ArgumentException("the resolver gave a null endpoint");
            var address = endpoint.Address;
            if (address.AddressFamily == AddressFamily.InterNetworkV6)
                return "[" + new IPAddress(address.GetAddressBytes()) + "]:" + endpoint.Port;
            return address + ":" + endpoint.Port;
        }
    }
}
