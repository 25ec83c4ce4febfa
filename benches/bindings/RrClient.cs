// RrClient: request-response on one connection with the wsx C# binding under
// Mono, for the bindings table of `make bench`: sends a binary message, awaits
// its echo, sends the next, for a fixed time after a short warm-up.
//
//   mono RrClient.exe --url ws://HOST:PORT/ [--duration SECS] [--sizes 256,65536] [--api websocket|message|events|clientwebsocket] [--inline]
//
// --api picks the public API a user would read the echo with: `websocket` (the default: only
// what System.Net.WebSockets.WebSocket has, as ClientWebSocket code does: SendAsync, then
// ReceiveAsync(ArraySegment) into one reused buffer until EndOfMessage), `message` (SendAsync,
// then wsx's ReceiveAsync(token) for a whole WsxMessage, a new array each) or `events` (the
// MessageReceived event, whose handler sends the next message). --inline sets
// WsxClientOptions.InlineCompletions: the code after each await ReceiveAsync (the handler with
// events) runs on the wsx loop thread, as the C client's does, instead of a thread-pool thread.
// `clientwebsocket` is the peer: the runtime's own System.Net.WebSockets.ClientWebSocket, driven
// as `websocket` drives wsx (no --inline: it has no such option).
//
// Prints one JSON line per size: {"client": "C# (Mono)", "size": N, "rt_per_s": R}, with
// "C# (Mono, inline)" as the client under --inline and "C# ClientWebSocket (Mono)" for the peer.
using System;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;
using Wsx;

static class RrClient
{
    const double Warmup = 0.3;

    static int Main(string[] args)
    {
        string url = null, sizes = "256,65536", api = "websocket";
        double duration = 2.0;
        bool inline = false, bad = false;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--inline") inline = true;
            else if (i + 1 == args.Length) bad = true;
            else if (args[i] == "--url") url = args[++i];
            else if (args[i] == "--duration") duration = double.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--sizes") sizes = args[++i];
            else if (args[i] == "--api") api = args[++i];
            else bad = true;
        }
        bool peer = api == "clientwebsocket";
        if (bad || url == null || (api != "message" && api != "websocket" && api != "events" && !peer) || (peer && inline))
        {
            Console.Error.WriteLine("usage: RrClient --url URL [--duration SECS] [--sizes 256,65536] [--api websocket|message|events|clientwebsocket] [--inline]");
            return 2;
        }
        var client = peer ? "C# ClientWebSocket (Mono)" : inline ? "C# (Mono, inline)" : "C# (Mono)";
        try
        {
            foreach (var s in sizes.Split(','))
            {
                int size = int.Parse(s, CultureInfo.InvariantCulture);
                var task = peer ? RunPeer(new Uri(url), size, duration) : Run(new Uri(url), size, duration, api, inline);
                double rate = task.GetAwaiter().GetResult();
                Console.WriteLine("{\"client\": \"" + client + "\", \"size\": " + size.ToString(CultureInfo.InvariantCulture)
                    + ", \"rt_per_s\": " + rate.ToString("F1", CultureInfo.InvariantCulture) + "}");
            }
            return 0;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine("RrClient: " + e.Message);
            return 1;
        }
    }

    static byte[] Payload(int size)
    {
        var payload = new byte[size];
        for (int i = 0; i < size; i++) payload[i] = (byte)(i % 251);
        return payload;
    }

    static async Task<double> Run(Uri url, int size, double duration, string api, bool inline)
    {
        var payload = Payload(size);
        using (var client = new WsxClient(new WsxClientOptions { InlineCompletions = inline }))
        {
            await client.ConnectAsync(url, CancellationToken.None);
            double rate;
            if (api == "events")
            {
                rate = await new EventLoop(client, payload).Run(duration);
            }
            else
            {
                rate = await Timed(client, payload, duration, api == "message");
            }
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            return rate;
        }
    }

    /// <summary>The peer: System.Net.WebSockets.ClientWebSocket, through the same loop.</summary>
    static async Task<double> RunPeer(Uri url, int size, double duration)
    {
        var payload = Payload(size);
        using (var ws = new ClientWebSocket())
        {
            await ws.ConnectAsync(url, CancellationToken.None);
            double rate = await Timed(ws, payload, duration, false);
            await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            return rate;
        }
    }

    /// <summary>Round trips per second over `duration`, after the warm-up.</summary>
    static async Task<double> Timed(WebSocket ws, byte[] payload, double duration, bool wholeMessages)
    {
        await Loop(ws, payload, Warmup, wholeMessages);
        var clock = Stopwatch.StartNew();
        long n = await Loop(ws, payload, duration, wholeMessages);
        return n / clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Sends and awaits the echo for `seconds`: through the WebSocket API only, or with
    /// wholeMessages through wsx's ReceiveAsync(token) (ws is then a WsxClient).
    /// </summary>
    static async Task<long> Loop(WebSocket ws, byte[] payload, double seconds, bool wholeMessages)
    {
        var buffer = new byte[payload.Length];
        var clock = Stopwatch.StartNew();
        long n = 0;
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            await ws.SendAsync(new ArraySegment<byte>(payload), WebSocketMessageType.Binary, true, CancellationToken.None);
            int length;
            if (wholeMessages)
            {
                length = (await ((WsxClient)ws).ReceiveAsync(CancellationToken.None)).Data.Length;
            }
            else
            {
                WebSocketReceiveResult r;
                length = 0;
                do
                {
                    r = await ws.ReceiveAsync(new ArraySegment<byte>(buffer, length, buffer.Length - length), CancellationToken.None);
                    length += r.Count;
                }
                while (!r.EndOfMessage && length < buffer.Length);
                if (!r.EndOfMessage) throw new InvalidOperationException("long echo");
            }
            if (length != payload.Length) throw new InvalidOperationException("short echo");
            n++;
        }
        return n;
    }

    /// <summary>The event API: each echo's MessageReceived handler sends the next message.</summary>
    sealed class EventLoop
    {
        readonly WsxClient client;
        readonly byte[] payload;
        readonly TaskCompletionSource<bool> done = new TaskCompletionSource<bool>();
        Stopwatch clock;
        double measureFrom, end;
        long n;

        internal EventLoop(WsxClient client, byte[] payload)
        {
            this.client = client;
            this.payload = payload;
        }

        internal async Task<double> Run(double duration)
        {
            measureFrom = Warmup;
            end = Warmup + duration;
            client.MessageReceived += OnMessage;
            clock = Stopwatch.StartNew();
            Send();
            await done.Task;
            return n / (clock.Elapsed.TotalSeconds - measureFrom);
        }

        void OnMessage(object sender, WsxMessageEventArgs e)
        {
            if (e.Message.Data.Length != payload.Length)
            {
                done.TrySetException(new InvalidOperationException("short echo"));
                return;
            }
            double t = clock.Elapsed.TotalSeconds;
            if (t >= measureFrom) n++;
            if (t < end) Send();
            else done.TrySetResult(true);
        }

        void Send()
        {
            var sent = client.SendAsync(new ArraySegment<byte>(payload), WebSocketMessageType.Binary, CancellationToken.None);
            if (!sent.IsCompleted || sent.IsFaulted)
                sent.ContinueWith(t => { if (t.IsFaulted) done.TrySetException(t.Exception.InnerException); });
        }
    }
}
