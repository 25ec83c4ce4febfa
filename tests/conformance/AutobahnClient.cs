// The C# binding's echo client for the Autobahn TestSuite (tests/conformance/run.py):
// asks wstest's fuzzingserver for its case count, runs every case as an echo client
// (permessage-deflate offered, the default), then asks it to write the reports.
//
//   mono AutobahnClient.exe ws://127.0.0.1:PORT AGENT
//
// Every message goes back with its type. Keepalive pings are off so the timing of slow
// cases (9.x) is wstest's alone; everything else is the binding's default.
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
            count = int.Parse((await client.ReceiveAsync(CancellationToken.None)).Text);
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
        catch (WsxException e)
        {
            Console.Error.WriteLine(what + ": " + e.Message);
        }
    }

    // Echoes every message until the connection is over.
    static async Task Echo(Uri url)
    {
        using (var client = NewClient())
        {
            await client.ConnectAsync(url, CancellationToken.None);
            while (true)
            {
                var message = await client.ReceiveAsync(CancellationToken.None);
                if (message.MessageType == WebSocketMessageType.Close)
                    return;
                await client.SendAsync(new ArraySegment<byte>(message.Data), message.MessageType, CancellationToken.None);
            }
        }
    }
}
