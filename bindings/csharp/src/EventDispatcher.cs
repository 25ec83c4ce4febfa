using System;
using System.Diagnostics;
using System.Threading;

namespace Wsx
{
    /// <summary>
    /// Raises the events of one client or server: on the loop thread, or posted in order to a
    /// <see cref="SynchronizationContext"/>. An exception thrown by a handler goes to the Error
    /// event; one thrown by an Error handler is traced and dropped, so none reaches native frames.
    /// </summary>
    internal sealed class EventDispatcher
    {
        readonly SynchronizationContext context;
        readonly Action<Exception> reportHandlerFailure;

        internal EventDispatcher(SynchronizationContext context, Action<Exception> reportHandlerFailure)
        {
            this.context = context;
            this.reportHandlerFailure = reportHandlerFailure;
        }

        /// <summary>Whether events are posted to a <see cref="SynchronizationContext"/> (else raised on the calling thread).</summary>
        internal bool Posts
        {
            get { return context != null; }
        }

        /// <summary>Runs <paramref name="raise"/> (any event but Error) where events belong.</summary>
        internal void Raise(Action raise)
        {
            Dispatch(raise, reportHandlerFailure);
        }

        /// <summary>
        /// Runs <paramref name="raise"/> with its arguments (any event but Error) where events belong:
        /// raised on the calling thread, nothing is allocated for it.
        /// </summary>
        internal void Raise<T1, T2>(Action<T1, T2> raise, T1 first, T2 second)
        {
            if (context != null)
            {
                Raise(() => raise(first, second));
                return;
            }
            try
            {
                raise(first, second);
            }
            catch (Exception e)
            {
                Failed(e, reportHandlerFailure);
            }
        }

        /// <summary>Runs <paramref name="raiseError"/> (an Error event) where events belong.</summary>
        internal void RaiseError(Action raiseError)
        {
            Dispatch(raiseError, TraceFailure);
        }

        void Dispatch(Action raise, Action<Exception> onFailure)
        {
            if (context == null)
            {
                Invoke(raise, onFailure);
                return;
            }
            try
            {
                context.Post(state => Invoke((Action)state, onFailure), raise);
            }
            catch (Exception e)
            {
                Trace.TraceError("wsx: posting an event to the SynchronizationContext failed: {0}", e);
            }
        }

        static void Invoke(Action raise, Action<Exception> onFailure)
        {
            try
            {
                raise();
            }
            catch (Exception e)
            {
                Failed(e, onFailure);
            }
        }

        /// <summary>A handler threw <paramref name="e"/>: to <paramref name="onFailure"/>, or traced if that throws too.</summary>
        static void Failed(Exception e, Action<Exception> onFailure)
        {
            try
            {
                onFailure(e);
            }
            catch (Exception again)
            {
                TraceFailure(again);
            }
        }

        static void TraceFailure(Exception e)
        {
            Trace.TraceError("wsx: an event handler threw: {0}", e);
        }
    }
}
