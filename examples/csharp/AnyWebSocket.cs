// Library code written against System.Net.WebSockets.WebSocket runs on both ends of wsx: here one
// function, EchoUntilClosedAsync(WebSocket), serves a WsxServer's connections (server-side
// ReceiveAsync), and another, RoundTripAsync(WebSocket, ...), drives a WsxClient. Neither knows
// about wsx: they would run unchanged over ClientWebSocket or ASP.NET Core's server WebSocket.
//
//   mono AnyWebSocket.exe
//
// Prints what happened and exits 0 when every echo matched and both sides closed cleanly.
using System;
using System.IO;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Wsx;

/// <summary>"A library": functions of any WebSocket.</summary>
static class WebSocketLibrary
{
    /// <summary>Echoes every message (part by part, through a small buffer) until the peer closes; returns the close status.</summary>
    public static async Task<WebSocketCloseStatus?> EchoUntilClosedAsync(WebSocket ws, CancellationToken cancellationToken)
    {
        var buffer = new byte[1024];
        while (true)
        {
            var result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                // CloseOutputAsync answers the peer's close; the connection is then over.
                await ws.CloseOutputAsync(result.CloseStatus ?? WebSocketCloseStatus.NormalClosure, result.CloseStatusDescription, cancellationToken);
                return result.CloseStatus;
            }
            await ws.SendAsync(new ArraySegment<byte>(buffer, 0, result.Count), result.MessageType, result.EndOfMessage, cancellationToken);
        }
    }

    /// <summary>Sends a message in <paramref name="fragments"/> parts and reads the answer whole.</summary>
    public static async Task<byte[]> RoundTripAsync(WebSocket ws, byte[] message, WebSocketMessageType type, int fragments, CancellationToken cancellationToken)
    {
        int step = (message.Length + fragments - 1) / fragments;
        for (int offset = 0, i = 0; i < fragments; i++, offset += step)
        {
            int count = Math.Max(0, Math.Min(step, message.Length - offset));
            await ws.SendAsync(new ArraySegment<byte>(message, Math.Min(offset, message.Length), count), type, i == fragments - 1, cancellationToken);
        }
        var answer = new MemoryStream();
        var buffer = new byte[4096];
        WebSocketReceiveResult result;
        do
        {
            result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), cancellationToken);
            answer.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);
        if (result.MessageType != type)
            throw new InvalidDataException("the answer is " + result.MessageType + ", not " + type);
        return answer.ToArray();
    }
}

static class AnyWebSocket
{
    static int Main()
    {
        return RunAsync().GetAwaiter().GetResult();
    }

    static async Task<int> RunAsync()
    {
        var serverDone = new TaskCompletionSource<WebSocketCloseStatus?>();
        using (var server = new WsxServer(new WsxServerOptions()))
        {
            // No MessageReceived handler: each connection is read with ReceiveAsync, by the library function.
            server.ClientConnected += (sender, e) => Task.Run(async () =>
            {
                try
                {
                    serverDone.TrySetResult(await WebSocketLibrary.EchoUntilClosedAsync(e.Connection, CancellationToken.None));
                }
                catch (Exception error)
                {
                    serverDone.TrySetException(error);
                }
            });
            server.Start();
            var url = new Uri("ws://127.0.0.1:" + server.Port + "/echo");

            bool ok = true;
            using (var client = new WsxClient())
            {
                await client.ConnectAsync(url, CancellationToken.None);
                var text = Encoding.UTF8.GetBytes("hello through any WebSocket ✓");
                var echo = await WebSocketLibrary.RoundTripAsync(client, text, WebSocketMessageType.Text, 1, CancellationToken.None);
                ok &= Report("text", Encoding.UTF8.GetString(echo) == Encoding.UTF8.GetString(text));

                var big = new byte[100000];
                new Random(7).NextBytes(big);
                echo = await WebSocketLibrary.RoundTripAsync(client, big, WebSocketMessageType.Binary, 7, CancellationToken.None);
                ok &= Report("100 000 bytes sent in 7 parts, echoed through a 1 KiB buffer", Convert.ToBase64String(echo) == Convert.ToBase64String(big));

                await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                ok &= Report("client closed: " + client.State + " " + (int?)client.CloseStatus, client.State == WebSocketState.Closed);
            }
            var serverSaw = await serverDone.Task;
            ok &= Report("server saw the close " + (int?)serverSaw, serverSaw == WebSocketCloseStatus.NormalClosure);
            return ok ? 0 : 1;
        }
    }

    static bool Report(string what, bool ok)
    {
        Console.WriteLine((ok ? "ok   " : "FAIL ") + what);
        return ok;
    }
}
