using System;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>The C# examples against the C example servers.</summary>
    internal static partial class Program
    {
        /// <summary>
        /// ChatClient.exe joins room "dev" of the C chat_server (rooms are pub/sub topics there),
        /// talks with a member of that room, then moves to the lobby, whose member hears only what
        /// was said after the move.
        /// </summary>
        static async Task ChatClientJoinsRoom(Peer chatServer, string runtime, string chatClient)
        {
            using (var dev = await Connect(chatServer.Url("/room/dev")))
            using (var lobby = await Connect(chatServer.Url("/")))
            {
                // The server's answer shows the lobby member is subscribed.
                await lobby.SendAsync("/join lobby", CancellationToken.None);
                Assert.Equal("* joined lobby", (await lobby.ReceiveAsync(CancellationToken.None)).Text, "the lobby member's join");

                var info = new ProcessStartInfo(runtime, Quote(chatClient) + " " + chatServer.Url("/") + " ana dev")
                {
                    UseShellExecute = false,
                    RedirectStandardInput = true,
                    RedirectStandardOutput = true,
                };
                using (var process = Process.Start(info))
                {
                    var lines = new BlockingCollection<string>();
                    var output = process.StandardOutput;
                    new Thread(() =>
                    {
                        string line;
                        while ((line = output.ReadLine()) != null)
                            lines.Add(line);
                        lines.CompleteAdding();
                    }) { IsBackground = true }.Start();
                    Func<string, string> next = what =>
                    {
                        string line;
                        Assert.True(lines.TryTake(out line, TimeSpan.FromSeconds(60)), "ChatClient printed " + what);
                        return line;
                    };
                    try
                    {
                        Assert.True(next("its greeting").StartsWith("* connected as ana", StringComparison.Ordinal), "the greeting");
                        Assert.Equal("* joined dev", next("its join"), "it joined room dev");
                        // dev's message also shows that dev is subscribed before ana speaks.
                        await dev.SendAsync("hi ana", CancellationToken.None);
                        Assert.Equal("hi ana", next("dev's message"), "ana hears the room");
                        process.StandardInput.WriteLine("hello room");
                        process.StandardInput.Flush();
                        Assert.Equal("ana: hello room", (await dev.ReceiveAsync(CancellationToken.None)).Text, "dev hears ana");

                        process.StandardInput.WriteLine("/join lobby");
                        process.StandardInput.Flush();
                        Assert.Equal("* joined lobby", next("the move"), "ana moved to the lobby");
                        process.StandardInput.WriteLine("bye lobby");
                        process.StandardInput.WriteLine("/quit");
                        process.StandardInput.Flush();
                        Assert.Equal("ana: bye lobby", (await lobby.ReceiveAsync(CancellationToken.None)).Text,
                            "the lobby's first message is the one said after the move");
                        var closed = next("the close");
                        Assert.True(closed.StartsWith("* closed: 1000", StringComparison.Ordinal), "ana left cleanly: " + closed);
                        Assert.True(process.WaitForExit(60000), "ChatClient exited");
                        Assert.Equal(0, process.ExitCode, "its exit code");
                    }
                    finally
                    {
                        if (!process.HasExited)
                            process.Kill();
                    }
                }
                // dev heard nothing more: the next thing it gets is its own close.
                await dev.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                Assert.Equal(WebSocketMessageType.Close, (await dev.ReceiveAsync(CancellationToken.None)).MessageType, "nothing after ana left the room");
            }
        }
    }
}
