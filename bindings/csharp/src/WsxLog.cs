using System;
using System.Diagnostics;

namespace Wsx
{
    /// <summary>The severity of a log record (<c>wsx_log_level</c>).</summary>
    public enum WsxLogLevel
    {
        /// <summary>Nothing.</summary>
        Off = 0,
        /// <summary>Failures of wsx itself.</summary>
        Error = 1,
        /// <summary>Protocol errors of peers, keepalive timeouts.</summary>
        Warning = 2,
        /// <summary>Connections opened and closed (with codes), handshakes refused (status, why), proxy tunnels.</summary>
        Information = 3,
        /// <summary>Plain HTTP requests answered.</summary>
        Debug = 4,
        /// <summary>Everything.</summary>
        Trace = 5,
    }

    /// <summary>One log record of wsx.</summary>
    public sealed class WsxLogEventArgs : EventArgs
    {
        internal WsxLogEventArgs(WsxLogLevel level, string target, string message)
        {
            Level = level;
            Target = target;
            Message = message;
        }

        /// <summary>Its severity.</summary>
        public WsxLogLevel Level { get; }
        /// <summary>What it is about: <c>wsx.conn</c>, <c>wsx.server</c>, <c>wsx.protocol</c>,
        /// <c>wsx.keepalive</c>, <c>wsx.proxy</c>, <c>wsx.cluster</c>, <c>wsx.loop</c> (a loop thread that ended early).</summary>
        public string Target { get; }
        /// <summary>The text, one line ("connection 3 closed: code 1000 reason "bye" clean true").</summary>
        public string Message { get; }
    }

    /// <summary>
    /// wsx's log records for the whole process (the native library has one log callback).
    /// Nothing is logged until a handler subscribes to <see cref="Message"/>; the handlers run on
    /// the native loop's thread, synchronously, so they must be quick (queue the record to a
    /// logger of your own); an exception of theirs is written to <see cref="Trace"/> and dropped.
    /// </summary>
    public static unsafe class WsxLog
    {
        static readonly NativeMethods.wsx_on_log LogDelegate = OnLog;
        static readonly object Gate = new object();
        static EventHandler<WsxLogEventArgs> handlers;
        static WsxLogLevel level = WsxLogLevel.Information;

        /// <summary>The records of this level and more severe ones are raised (default Information).</summary>
        public static WsxLogLevel Level
        {
            get { lock (Gate) return level; }
            set
            {
                lock (Gate)
                {
                    level = value;
                    Install();
                }
            }
        }

        /// <summary>A log record; raised on the thread that logged it (a native loop's).</summary>
        public static event EventHandler<WsxLogEventArgs> Message
        {
            add
            {
                lock (Gate)
                {
                    handlers += value;
                    Install();
                }
            }
            remove
            {
                lock (Gate)
                {
                    handlers -= value;
                    Install();
                }
            }
        }

        static void Install()
        {
            var on = handlers != null && level != WsxLogLevel.Off;
            Native.Check(NativeMethods.wsx_log_set_callback(on ? LogDelegate : null, IntPtr.Zero, IntPtr.Zero, on ? (int)level : 0));
        }

        static unsafe void OnLog(IntPtr userData, NativeMethods.wsx_log_record* record)
        {
            try
            {
                var h = handlers;
                if (h == null)
                    return;
                var args = new WsxLogEventArgs((WsxLogLevel)record->level, Native.String(record->target), Native.String(record->message, record->message_len));
                h(null, args);
            }
            catch (Exception e)
            {
                // Never into native frames.
                Trace.WriteLine("wsx: a WsxLog.Message handler failed: " + e);
            }
        }
    }
}
