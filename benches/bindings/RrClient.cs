// RrClient: request-response on one connection with the wsx C# binding under
// Mono, for the bindings table of `make bench`: sends a binary message, awaits
// its echo, sends the next, for a fixed time after a short warm-up.
//
//   mono RrClient.exe --url ws://HOST:PORT/ [--duration SECS] [--sizes 256,65536]
//
// Prints one JSON line per size: {"client": "C# (Mono)", "size": N, "rt_per_s": R}.
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
        string url = null, sizes = "256,65536";
        double duration = 2.0;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            if (args[i] == "--url") url = args[i + 1];
            else if (args[i] == "--duration") duration = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
            else if (args[i] == "--sizes") sizes = args[i + 1];
        }
        if (url == null)
        {
            Console.Error.WriteLine("usage: RrClient --url URL [--duration SECS] [--sizes 256,65536]");
            return 2;
        }
        try
        {
            foreach (var s in sizes.Split(','))
            {
                int size = int.Parse(s, CultureInfo.InvariantCulture);
                double rate = Run(new Uri(url), size, duration).GetAwaiter().GetResult();
                Console.WriteLine("{\"client\": \"C# (Mono)\", \"size\": " + size.ToString(CultureInfo.InvariantCulture)
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

    static async Task<double> Run(Uri url, int size, double duration)
    {
        var payload = new byte[size];
        for (int i = 0; i < size; i++) payload[i] = (byte)(i % 251);
        using (var client = new WsxClient())
        {
            await client.ConnectAsync(url, CancellationToken.None);
            await Loop(client, payload, Warmup);
            var clock = Stopwatch.StartNew();
            long n = await Loop(client, payload, duration);
            double rate = n / clock.Elapsed.TotalSeconds;
            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            return rate;
        }
    }

    static async Task<long> Loop(WsxClient client, byte[] payload, double seconds)
    {
        var clock = Stopwatch.StartNew();
        long n = 0;
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            await client.SendAsync(new ArraySegment<byte>(payload), WebSocketMessageType.Binary, CancellationToken.None);
            var echo = await client.ReceiveAsync(CancellationToken.None);
            if (echo.Data.Length != payload.Length) throw new InvalidOperationException("short echo");
            n++;
        }
        return n;
    }
}
