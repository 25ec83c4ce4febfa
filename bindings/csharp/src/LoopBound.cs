using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx
{
    /// <summary>
    /// The deadlock guard of the tasks only a loop completes (a SendAsync waiting for room, a
    /// CloseAsync waiting for the close handshake, a ConnectAsync). Started on a loop thread (code
    /// after an inline completion, an event handler), such a task is handed out as a task of this
    /// scheduler that completes as the real one does: awaiting it works as before, but a blocking
    /// wait on it on a loop thread (Wait, Result, GetAwaiter().GetResult()), which would block the
    /// very loop it waits for and never end, fails at once with <see cref="InvalidOperationException"/>.
    /// The hook: a blocking wait first offers the task to its scheduler to run on the waiting
    /// thread (<see cref="TryExecuteTaskInline"/>).
    /// </summary>
    internal sealed class LoopBound : TaskScheduler
    {
        static readonly LoopBound Instance = new LoopBound();
        static readonly Action<object> Finish = FinishWait;
        static readonly Action<Task, object> Run = RunOuter;

        sealed class Pending
        {
            internal Task Inner;
            internal CancellationTokenSource Abandon;
            internal string What;
            internal bool Blocked;
        }

        /// <summary>
        /// <paramref name="inner"/>, or, if it is pending and this is a loop thread, the guarded task
        /// that mirrors it. <paramref name="abandon"/> (null: none; disposed once done) cancels
        /// <paramref name="inner"/> when a blocking wait fails; <paramref name="what"/> names the
        /// wait in the exception.
        /// </summary>
        internal static Task Guard(Task inner, CancellationTokenSource abandon, CancellationToken cancellationToken, string what)
        {
            if (inner.IsCompleted || !NativeLoop.OnLoopThread || cancellationToken.IsCancellationRequested)
            {
                if (abandon != null)
                    inner.ContinueWith((_, cts) => ((CancellationTokenSource)cts).Dispose(), abandon, TaskScheduler.Default);
                return inner;
            }
            var wait = new Pending { Inner = inner, Abandon = abandon, What = what };
            // With the caller's token, so that its cancellation cancels this task too (not faults it).
            var outer = new Task(Finish, wait, cancellationToken);
            outer.Start(Instance);
            inner.ContinueWith(Run, outer, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return outer;
        }

        /// <summary>The inner task is done: the guarded one completes as it did (unless a blocking wait failed it first).</summary>
        static void RunOuter(Task inner, object state)
        {
            var outer = (Task)state;
            Instance.TryExecuteTask(outer);
            var abandon = ((Pending)outer.AsyncState).Abandon;
            if (abandon != null)
                abandon.Dispose();
        }

        static void FinishWait(object state)
        {
            var wait = (Pending)state;
            if (wait.Blocked)
                throw new InvalidOperationException(wait.What + ": a blocking wait for it (Wait, Result) on a wsx loop thread would never end, " +
                    "since the loop it waits for is the thread blocked (with InlineCompletions, the code after await ReceiveAsync runs there). " +
                    "Await it, or block on another thread.");
            wait.Inner.GetAwaiter().GetResult();
        }

        /// <summary>Nothing to queue: the inner task's continuation runs the task.</summary>
        protected override void QueueTask(Task task)
        {
        }

        /// <summary>A blocking wait: off a loop thread, it waits as usual; on one, it fails the task unless it is done.</summary>
        protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued)
        {
            if (!NativeLoop.OnLoopThread)
                return false;
            var wait = (Pending)task.AsyncState;
            if (!wait.Inner.IsCompleted)
            {
                wait.Blocked = true;
                if (wait.Abandon != null)
                    wait.Abandon.Cancel();
            }
            return TryExecuteTask(task);
        }

        /// <summary>For debuggers: none is queued here.</summary>
        protected override IEnumerable<Task> GetScheduledTasks()
        {
            return new Task[0];
        }
    }
}
