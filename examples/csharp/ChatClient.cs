// The wsx C# chat client: joins a room of a chat server (the C chat_server keeps rooms as
// publish/subscribe topics), sends each line typed on stdin to the room and prints what the
// others in the room send, as events.
//
//   mono ChatClient.exe ws://127.0.0.1:9002/ [NAME [ROOM]]
//
// Without ROOM the server's default room ("lobby", or the one the URL's /room/NAME path names)
// is kept. A line "/join ROOM" moves to another room; the server answers "* joined ROOM".
// End with an empty stdin (Ctrl-D) or "/quit"; exits 0 after a clean close.
using System;
using System.Net.WebSockets;
using System.Threading;
using Wsx;

static class ChatClient
{
    const string JoinCommand = "/join ";

    static int Main(string[] args)
    {
        if (args.Length < 1)
        {
            Console.Error.WriteLine("usage: ChatClient URL [NAME [ROOM]]");
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
                Console.WriteLine("* connected as " + name + "; type lines to send, /join ROOM to change rooms, /quit to leave");
                if (args.Length > 2)
                    client.SendAsync(JoinCommand + args[2], CancellationToken.None).GetAwaiter().GetResult();
                string line;
                while ((line = Console.ReadLine()) != null && line != "/quit" && client.State == WebSocketState.Open)
                {
                    // Commands go as they are; anything else is said under our name.
                    var text = line.StartsWith(JoinCommand, StringComparison.Ordinal) ? line : name + ": " + line;
                    client.SendAsync(text, CancellationToken.None).GetAwaiter().GetResult();
                }
                if (client.State == WebSocketState.Open)
                    client.CloseAsync(WebSocketCloseStatus.NormalClosure, name + " left", CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (WebSocketException e)
            {
                Console.Error.WriteLine("chat client: " + e.Message);
                return 1;
            }
            return client.State == WebSocketState.Closed ? 0 : 1;
        }
    }
}
