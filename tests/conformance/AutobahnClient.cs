// The C# binding's echo client for the Autobahn TestSuite (tests/conformance/run.py):
// asks wstest's fuzzingserver for its case count, runs every case as an echo client
// (permessage-deflate offered, the default), then asks it to write the reports.
//
//   mono AutobahnClient.exe ws://127.0.0.1:PORT AGENT
//
// Written against System.Net.WebSockets.WebSocket only (WsxClient is the one wsx name): the
// classic echo loop, ReceiveAsync into a buffer and every part sent back with its type and
// EndOfMessage. Messages wait in the library's inbox (pull mode), so what arrived before a
// protocol error is echoed before the failing close goes out (strict in 3.x, 4.x, 5.15).
// Keepalive pings are off so the timing of slow cases (9.x) is wstest's alone; everything else
// is the binding's default.
using System;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;
using Wsx;

static class AutobahnClient
{
    static int Main(string[] args)
    {
        if (args.Length != 2)
        {
            Console.Error.WriteLine("usage: AutobahnClient ws://127.0.0.1:PORT AGENT");
            return 2;
        }
        Run(args[0], Uri.EscapeDataString(args[1])).GetAwaiter().GetResult();
        return 0;
    }

    static WsxClient NewClient()
    {
        var options = new WsxClientOptions();
        options.KeepAliveInterval = TimeSpan.Zero;
        return new WsxClient(options);
    }

    static async Task Run(string baseUrl, string agent)
    {
        int count;
        using (var client = NewClient())
        {
            await client.ConnectAsync(new Uri(baseUrl + "/getCaseCount"), CancellationToken.None);
            var buffer = new byte[64];
            var result = await client.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None);
            count = int.Parse(System.Text.Encoding.UTF8.GetString(buffer, 0, result.Count));
        }
        for (int i = 1; i <= count; i++)
            await EchoLogged("case " + i, new Uri(baseUrl + "/runCase?case=" + i + "&agent=" + agent));
        await EchoLogged("updateReports", new Uri(baseUrl + "/updateReports?agent=" + agent));
    }

    // Many cases end the connection on purpose (and wstest drops the TCP connection after
    // the close handshake): the error is logged, the run goes on.
    static async Task EchoLogged(string what, Uri url)
    {
        try
        {
            await Echo(url);
        }
        catch (WebSocketException e)
        {
            Console.Error.WriteLine(what + ": " + e.Message);
        }
    }

    // Echoes every message, part by part, until the connection is over.
    static async Task Echo(Uri url)
    {
        using (WebSocket ws = NewClient())
        {
            await ((WsxClient)ws).ConnectAsync(url, CancellationToken.None);
            var buffer = new byte[64 * 1024];
            while (true)
            {
                var result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await ws.CloseOutputAsync(result.CloseStatus ?? WebSocketCloseStatus.NormalClosure, result.CloseStatusDescription, CancellationToken.None);
                    return;
                }
                await ws.SendAsync(new ArraySegment<byte>(buffer, 0, result.Count), result.MessageType, result.EndOfMessage, CancellationToken.None);
            }
        }
    }
}
