// The wsx C# echo client: connects to an echo server, sends a few text and binary messages,
// checks that each comes back unchanged, and closes.
//
//   mono EchoClient.exe ws://127.0.0.1:9001/ [MESSAGE...]
//
// Exits 0 when every echo matched and the close handshake finished, 1 otherwise.
using System;
using System.Linq;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Wsx;

static class EchoClient
{
    static int Main(string[] args)
    {
        if (args.Length < 1)
        {
            Console.Error.WriteLine("usage: EchoClient URL [MESSAGE...]");
            return 2;
        }
        try
        {
            return Run(new Uri(args[0]), args.Skip(1).ToArray()).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is WebSocketException || e is UriFormatException)
        {
            Console.Error.WriteLine("echo client: " + e.Message);
            return 1;
        }
    }

    static async Task<int> Run(Uri url, string[] texts)
    {
        if (texts.Length == 0)
            texts = new[] { "hello from C#", "héllo wörld ✓" };
        var binary = new byte[] { 0, 1, 2, 253, 254, 255 };
        using (var client = new WsxClient())
        {
            await client.ConnectAsync(url, CancellationToken.None);
            Console.WriteLine("C# echo client: connected to " + url);
            bool ok = true;
            foreach (var text in texts)
            {
                await client.SendAsync(text, CancellationToken.None);
                var echo = await client.ReceiveAsync(CancellationToken.None);
                ok &= Report("text", text, echo.MessageType == WebSocketMessageType.Text ? echo.Text : null);
            }
            await client.SendAsync(new ArraySegment<byte>(binary), WebSocketMessageType.Binary, CancellationToken.None);
            var reply = await client.ReceiveAsync(CancellationToken.None);
            ok &= Report("binary", Hex(binary), reply.MessageType == WebSocketMessageType.Binary ? Hex(reply.Data) : null);

            await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
            Console.WriteLine("C# echo client: closed with " + (int?)client.CloseStatus + " \"" + client.CloseStatusDescription + "\"");
            return ok && client.State == WebSocketState.Closed ? 0 : 1;
        }
    }

    static bool Report(string kind, string sent, string echoed)
    {
        var same = sent == echoed;
        Console.WriteLine("C# echo client: sent " + kind + " " + sent + ", got " + (echoed ?? "(another type)") + (same ? "" : "  MISMATCH"));
        return same;
    }

    static string Hex(byte[] data)
    {
        var text = new StringBuilder();
        foreach (var b in data)
            text.Append(b.ToString("x2"));
        return text.ToString();
    }
}
