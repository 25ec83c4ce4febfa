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

        [ThreadStatic]
        static bool onLoopThread;

        /// <summary>
        /// Called first by every callback of the library (but free_user_data): marks the calling
        /// thread as the loop's (see <see cref="OnLoopThread"/>), and returns false once the
        /// process is exiting (or the domain unloading) and the loop stopping. The callbacks that
        /// still come then (the connections the stop drops) must start nothing managed, no task
        /// continuation, no event: the runtime aborts the thread pool's threads right after, and a
        /// pool thread caught between two work items holds Mono's exit for 5 to 60 s.
        /// </summary>
        internal static bool EnterCallback()
        {
            onLoopThread = true;
            return !stopping;
        }

        /// <summary>Whether this is the loop thread (which nothing may block: Dispose does not wait there).</summary>
        internal static bool OnLoopThread
        {
            get { return onLoopThread; }
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
