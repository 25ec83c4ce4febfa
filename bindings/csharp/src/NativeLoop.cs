using System;
using System.Threading;

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
            AppDomain.CurrentDomain.ProcessExit += (s, e) =>
            {
                ShutDown();
                if (Type.GetType("Mono.Runtime") != null)
                    LetThePoolSettle();
            };
            AppDomain.CurrentDomain.DomainUnload += (s, e) => ShutDown();
            return handle;
        }

        /// <summary>
        /// Waits (half a second at most) until no thread of the pool runs a work item, then 10 ms
        /// more for the last ones to park. Mono's shutdown aborts the pool's threads right after
        /// ProcessExit and waits for them; one caught between two work items parks for its 5-60 s
        /// timeout first (a runtime bug, also without this library). Returning from Main while
        /// event deliveries run, or right after disposing their connections, met it about one
        /// exit in fifty; with this wait, none in 300. A workaround, under Mono only.
        /// </summary>
        static void LetThePoolSettle()
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromMilliseconds(500);
            while (DateTime.UtcNow < deadline)
            {
                int available, max, io;
                ThreadPool.GetAvailableThreads(out available, out io);
                ThreadPool.GetMaxThreads(out max, out io);
                if (available == max)
                    break;
                Thread.Sleep(1);
            }
            Thread.Sleep(10);
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
