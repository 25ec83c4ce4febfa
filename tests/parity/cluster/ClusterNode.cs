// The C# node of the cluster parity scenario (README.md beside it): a WsxServer that joins a
// cluster (WsxServerOptions.Cluster), runs its clients' commands and prints its cluster events
// (ClusterStateChanged, ClusterGap) as JSON lines.
//
//   mono ClusterNode.exe URL PREFIX NODE_ID MAX_QUEUED INITIAL_DELAY_MS MAX_DELAY_MS CONNECT_TIMEOUT_MS SHARDED CA_FILE
//
// SHARDED is 1 or 0; CA_FILE (for rediss://) may be empty.
//
// Runs until its stdin closes.
using System;
using System.Globalization;
using System.Text;
using System.Threading;
using Wsx;

internal static class ClusterNode
{
    static readonly object Gate = new object();

    static void Emit(string json)
    {
        lock (Gate)
        {
            Console.Out.Write(json + "\n");
            Console.Out.Flush();
        }
    }

    static string Json(string s)
    {
        var b = new StringBuilder("\"");
        foreach (var c in s)
        {
            if (c == '"' || c == '\\')
                b.Append('\\').Append(c);
            else if (c < ' ')
                b.AppendFormat(CultureInfo.InvariantCulture, "\\u{0:x4}", (int)c);
            else
                b.Append(c);
        }
        return b.Append('"').ToString();
    }

    static string Json(ulong? n)
    {
        return n.HasValue ? n.Value.ToString(CultureInfo.InvariantCulture) : "null";
    }

    static string StateName(WsxClusterState state)
    {
        return state.ToString().ToLowerInvariant();
    }

    /// <summary>"sub T", "unsub T", "pub T MESSAGE", "stats" (README.md).</summary>
    static string Answer(WsxServer server, WsxConnection conn, string command)
    {
        var parts = command.Split(new[] { ' ' }, 3);
        try
        {
            if (parts.Length == 1 && parts[0] == "stats")
            {
                var s = server.ClusterStats;
                return string.Format(CultureInfo.InvariantCulture,
                    "ok stats {{\"state\":\"{0}\",\"published\":{1},\"received\":{2},\"queued\":{3},\"dropped\":{4},\"gaps\":{5},\"disconnects\":{6},\"subscriptions\":{7}}}",
                    StateName(s.State), s.Published, s.Received, s.Queued, s.Dropped, s.Gaps, s.Disconnects, s.Subscriptions);
            }
            if (parts.Length == 2 && parts[0] == "sub")
            {
                conn.Subscribe(parts[1]);
                return "ok sub";
            }
            if (parts.Length == 2 && parts[0] == "unsub")
            {
                conn.Unsubscribe(parts[1]);
                return "ok unsub";
            }
            if (parts.Length == 3 && parts[0] == "pub")
                return "ok pub " + server.Publish(parts[1], parts[2]).ToString(CultureInfo.InvariantCulture);
        }
        catch (WsxException e)
        {
            return "error " + e.Result + ": " + e.Message;
        }
        return "error bad command";
    }

    static int Main(string[] args)
    {
        if (args.Length != 9)
        {
            Console.Error.WriteLine("usage: ClusterNode.exe URL PREFIX NODE_ID MAX_QUEUED INITIAL_DELAY_MS MAX_DELAY_MS CONNECT_TIMEOUT_MS SHARDED CA_FILE");
            return 2;
        }
        Func<int, TimeSpan> ms = i => TimeSpan.FromMilliseconds(int.Parse(args[i], CultureInfo.InvariantCulture));
        var options = new WsxServerOptions
        {
            Host = "127.0.0.1",
            Port = 0,
            Cluster = new WsxClusterOptions(args[0])
            {
                Prefix = args[1],
                NodeId = args[2],
                MaxQueued = long.Parse(args[3], CultureInfo.InvariantCulture),
                Reconnect = new WsxReconnectPolicy { InitialDelay = ms(4), MaxDelay = ms(5) },
                ConnectTimeout = ms(6),
                Sharded = args[7] == "1",
                TlsCaFile = args[8].Length > 0 ? args[8] : null,
            },
        };
        using (var server = new WsxServer(options))
        {
            server.ClusterStateChanged += (s, e) =>
                Emit("{\"event\":\"state\",\"state\":\"" + StateName(e.State) + "\",\"detail\":" + Json(e.Detail) + "}");
            server.ClusterGap += (s, e) =>
                Emit("{\"event\":\"gap\",\"topic\":" + Json(e.Topic) + ",\"node\":" + Json(e.Node) +
                     ",\"epoch\":" + Json(e.Epoch) + ",\"previous_epoch\":" + Json(e.PreviousEpoch) +
                     ",\"expected\":" + Json(e.Expected) + ",\"received\":" + Json(e.Received) +
                     ",\"missed\":" + Json(e.Missed) + "}");
            server.MessageReceived += (s, e) =>
            {
                var reply = e.Message.MessageType == System.Net.WebSockets.WebSocketMessageType.Text
                    ? Answer(server, e.Connection, e.Message.Text)
                    : "error bad command";
                e.Connection.SendAsync(reply, CancellationToken.None);
            };
            server.Error += (s, e) => Console.Error.WriteLine("ClusterNode: " + e.Exception);
            server.Start();
            Emit("{\"event\":\"listening\",\"port\":" + server.Port + ",\"node\":" + Json(server.ClusterNodeId) +
                 ",\"epoch\":" + Json(server.ClusterStats.Epoch) + "}");
            Console.In.ReadToEnd();
        }
        return 0;
    }
}
