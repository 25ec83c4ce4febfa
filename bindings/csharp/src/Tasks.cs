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
        internal static async Task<T> WithCancellation<T>(Task<T> task, CancellationToken cancellationToken)
        {
            if (!cancellationToken.CanBeCanceled || task.IsCompleted)
                return await task.ConfigureAwait(false);
            var cancelled = New<T>();
            using (cancellationToken.Register(() => cancelled.TrySetCanceled(cancellationToken)))
                return await (await Task.WhenAny(task, cancelled.Task).ConfigureAwait(false)).ConfigureAwait(false);
        }
    }
}
