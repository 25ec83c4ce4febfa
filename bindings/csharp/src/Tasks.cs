using System;
using System.Runtime.ExceptionServices;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx
{
    /// <summary>Task plumbing shared by the connection types.</summary>
    internal static class Tasks
    {
        /// <summary>
        /// A completion source whose continuations never run inline on the thread that completes
        /// it (the native loop thread), so user code does not run there unless asked.
        /// </summary>
        internal static TaskCompletionSource<T> New<T>()
        {
            return new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        /// <summary><paramref name="task"/>, or a cancelled task once <paramref name="cancellationToken"/> fires first.</summary>
        internal static Task<T> WithCancellation<T>(Task<T> task, CancellationToken cancellationToken)
        {
            if (!cancellationToken.CanBeCanceled || task.IsCompleted)
                return task;
            return WaitOrCancel(task, cancellationToken);
        }

        static async Task<T> WaitOrCancel<T>(Task<T> task, CancellationToken cancellationToken)
        {
            var cancelled = New<T>();
            using (cancellationToken.Register(() => cancelled.TrySetCanceled(cancellationToken)))
                return await (await Task.WhenAny(task, cancelled.Task).ConfigureAwait(false)).ConfigureAwait(false);
        }

#pragma warning disable 1998 // no await: the method exists for the task its builder makes of the exception
        /// <summary>
        /// A task failed with <paramref name="error"/> exactly as an async method's task fails with
        /// what it throws (an <see cref="OperationCanceledException"/> makes it cancelled), for the
        /// fast paths that return a finished task without an async method.
        /// </summary>
        internal static async Task Failed(Exception error)
        {
            ExceptionDispatchInfo.Capture(error).Throw();
        }
#pragma warning restore 1998
    }
}
