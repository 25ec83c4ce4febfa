// The classic System.Net.WebSockets.ClientWebSocket echo sample, running over wsx: the only line
// that differs from the ClientWebSocket version is the one that creates the socket (marked below).
// The tests build this file twice, as it is and with that line put back to `new ClientWebSocket()`,
// and check that both print the same against the C echo server.
//
//   mono ClientWebSocketEcho.exe ws://127.0.0.1:9001/ [MESSAGE...]
using System;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

static class ClientWebSocketEcho
{
    static int Main(string[] args)
    {
        try
        {
            return RunAsync(new Uri(args[0]), args).GetAwaiter().GetResult();
        }
        catch (WebSocketException e)
        {
            Console.WriteLine("WebSocketException (" + e.WebSocketErrorCode + "): " + e.Message);
            return 1;
        }
    }

    static async Task<int> RunAsync(Uri uri, string[] args)
    {
        using (var ws = new Wsx.WsxClient()) // the one changed line; was: new ClientWebSocket()
        {
            await ws.ConnectAsync(uri, CancellationToken.None);
            Console.WriteLine("state: " + ws.State);

            for (int i = 1; i < args.Length; i++)
            {
                var message = Encoding.UTF8.GetBytes(args[i]);
                await ws.SendAsync(new ArraySegment<byte>(message), WebSocketMessageType.Text, true, CancellationToken.None);

                // A small buffer on purpose: long messages arrive in parts until EndOfMessage.
                var buffer = new byte[16];
                var received = new System.IO.MemoryStream();
                WebSocketReceiveResult result;
                int parts = 0;
                do
                {
                    result = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), CancellationToken.None);
                    received.Write(buffer, 0, result.Count);
                    parts++;
                }
                while (!result.EndOfMessage);
                Console.WriteLine("echo (" + result.MessageType + ", " + parts + " part(s)): " + Encoding.UTF8.GetString(received.ToArray()));
            }

            await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            Console.WriteLine("state: " + ws.State + ", close status: " + ws.CloseStatus);
            return ws.State == WebSocketState.Closed ? 0 : 1;
        }
    }
}
