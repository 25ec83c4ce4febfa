// The wsx C# chat client: sends each line typed on stdin to a chat server (the C
// chat_server broadcasts it to everybody else) and prints what the others send, as events.
//
//   mono ChatClient.exe ws://127.0.0.1:9002/ [NAME]
//
// End with an empty stdin (Ctrl-D) or "/quit"; exits 0 after a clean close.
using System;
using System.Net.WebSockets;
using System.Threading;
using Wsx;

static class ChatClient
{
    static int Main(string[] args)
    {
        if (args.Length < 1)
        {
            Console.Error.WriteLine("usage: ChatClient URL [NAME]");
            return 2;
        }
        var name = args.Length > 1 ? args[1] : "C#";
        using (var client = new WsxClient())
        {
            client.MessageReceived += (s, e) => Console.WriteLine(e.Message.Text);
            client.Error += (s, e) => Console.Error.WriteLine("chat client: " + e.Exception.Message);
            client.Closed += (s, e) => Console.WriteLine("* closed: " + (int)e.CloseStatus + " " + e.CloseStatusDescription);
            try
            {
                client.ConnectAsync(new Uri(args[0]), CancellationToken.None).GetAwaiter().GetResult();
                Console.WriteLine("* connected as " + name + "; type lines to send, /quit to leave");
                string line;
                while ((line = Console.ReadLine()) != null && line != "/quit" && client.State == WebSocketState.Open)
                    client.SendAsync(name + ": " + line, CancellationToken.None).GetAwaiter().GetResult();
                if (client.State == WebSocketState.Open)
                    client.CloseAsync(WebSocketCloseStatus.NormalClosure, name + " left", CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (WsxException e)
            {
                Console.Error.WriteLine("chat client: " + e.Message);
                return 1;
            }
            return client.State == WebSocketState.Closed ? 0 : 1;
        }
    }
}
