using System;
using System.Diagnostics;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>
    /// A program that returns from Main right after disposing a <see cref="WsxServer"/> whose
    /// clients are still connected and whose event deliveries are busy exits by itself. Under
    /// Mono, work the binding left in the thread pool at that moment (an event delivery woken by
    /// the close handshake, a task completed by the connections the exit drops) met the runtime's
    /// shutdown, which aborts the pool's threads and then waits for them: one caught between two
    /// work items parks for 5 to 60 s first, so such an exit took that long about one time in ten.
    /// </summary>
    internal static partial class Program
    {
        /// <summary>The argument that makes this program the child of the test, nothing else.</summary>
        const string ShutdownChildFlag = "--shutdown-child";
        const int ShutdownRuns = 20;
        // Each run takes a fraction of a second; a shutdown held up by a parked pool thread takes
        // 5 s at least (the park's shortest timeout). A guard against that hang, not a timing assert.
        static readonly TimeSpan ShutdownHangGuard = TimeSpan.FromSeconds(4);

        static void ShutdownTests(Runner runner, string runtime)
        {
            runner.Run("shutdown: returning from Main after Dispose of a server with busy clients exits by itself, " + ShutdownRuns + " runs",
                () => ReturnFromMainAfterDispose(runtime));
        }

        static Task ReturnFromMainAfterDispose(string runtime)
        {
            var exe = typeof(Program).Assembly.Location;
            for (int run = 1; run <= ShutdownRuns; run++)
            {
                var info = new ProcessStartInfo(runtime, "--debug " + Quote(exe) + " " + ShutdownChildFlag)
                {
                    UseShellExecute = false,
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                };
                using (var process = Process.Start(info))
                {
                    var stderr = process.StandardError.ReadToEndAsync();
                    var stdout = process.StandardOutput.ReadToEndAsync();
                    if (!process.WaitForExit((int)ShutdownHangGuard.TotalMilliseconds))
                    {
                        process.Kill();
                        process.WaitForExit();
                        throw new Exception("run " + run + " of " + ShutdownRuns + " did not exit within " +
                                            ShutdownHangGuard.TotalSeconds + " s (output: " + stdout.Result + stderr.Result + ")");
                    }
                    Assert.Equal("disposed", stdout.Result.Trim(), "run " + run + "'s output (stderr: " + stderr.Result + ")");
                    Assert.Equal(0, process.ExitCode, "run " + run + "'s exit code");
                }
            }
            return Task.CompletedTask;
        }

        /// <summary>
        /// The child: a server echoing with MessageReceived, three clients sending, and Dispose of
        /// the server while the echoes flow; then back from Main (the clients left open).
        /// </summary>
        static int ShutdownChild()
        {
            const int clients = 3;
            var server = new WsxServer(null);
            var opened = new CountdownEvent(clients);
            server.ClientConnected += (s, e) => opened.Signal();
            server.MessageReceived += (s, e) => e.Connection.SendAsync(e.Message.Text, CancellationToken.None);
            server.ClientDisconnected += (s, e) => { };
            server.Start();
            var url = new Uri("ws://127.0.0.1:" + server.Port + "/");
            for (int i = 0; i < clients; i++)
            {
                var client = new WsxClient();
                client.ConnectAsync(url, CancellationToken.None).Wait();
                for (int k = 0; k < 20; k++)
                    client.SendAsync("message " + k, CancellationToken.None);
            }
            opened.Wait();
            server.Dispose();
            Console.WriteLine("disposed");
            return 0;
        }
    }
}
