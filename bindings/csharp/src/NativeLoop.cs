using System;

namespace Wsx
{
    /// <summary>
    /// The one native loop of the process, running on a thread of its own; every client and
    /// server of this binding shares it. One loop drives any number of connections (that is the
    /// library's design), so a process with many connections still has a single network thread,
    /// and callbacks of all connections are serialised on it. It starts on first use and is
    /// stopped and joined when the process exits or the AppDomain unloads (a Unity domain
    /// reload), so no callback runs into a runtime that is going away.
    /// </summary>
    internal static class NativeLoop
    {
        static readonly object Gate = new object();
        static LoopHandle shared;
        static bool shutDown;
        static volatile bool stopping;

        /// <summary>
        /// The process is exiting (or the domain unloading) and the loop stopping: the callbacks
        /// that still come (the connections the stop drops) must start nothing managed, no task
        /// continuation, no event. The runtime aborts the thread pool's threads right after, and
        /// a pool thread caught between two work items holds Mono's exit up to a minute.
        /// </summary>
        internal static bool Stopping
        {
            get { return stopping; }
        }

        /// <summary>The running loop, started on first use.</summary>
        internal static LoopHandle Shared
        {
            get
            {
                lock (Gate)
                {
                    if (shutDown)
                        throw new ObjectDisposedException("wsx loop", "the process is shutting down");
                    if (shared == null)
                        shared = Start();
                    return shared;
                }
            }
        }

        static LoopHandle Start()
        {
            LoopHandle handle;
            Native.Check(NativeMethods.wsx_loop_new(out handle));
            var result = NativeMethods.wsx_loop_start_thread(handle);
            if (result != WsxResult.Ok)
            {
                var failure = Native.Failure(result);
                handle.Dispose();
                throw failure;
            }
            AppDomain.CurrentDomain.ProcessExit += (s, e) => ShutDown();
            AppDomain.CurrentDomain.DomainUnload += (s, e) => ShutDown();
            return handle;
        }

        static void ShutDown()
        {
            lock (Gate)
            {
                shutDown = true;
                stopping = true;
                if (shared != null)
                    shared.Dispose();
            }
        }
    }
}
