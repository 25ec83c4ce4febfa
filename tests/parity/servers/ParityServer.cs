// The C# parity server: the paths and endpoints of wsx_server.py (main, origin, restart, drain,
// mtls, ipv6, deflate, deflate_shared, loops; see py_server.py's docstring for the paths, wsx_server.py's for /room) served by the C# binding's
// WsxServer: the Upgrading event gives the HTTP answers (process_request's /auth 401,
// /upgrade-required 426, /healthz 200, /moved 302, /metrics, plain HTTP too), and each
// connection (ClientConnected) is read with ReceiveAsync by a thread of its own, as
// wsx.sync.serve's handler does.
//
//   mono ParityServer.exe            (WSX_PARITY_TLS: run.py's certificates)
//
// Announces its ports as one JSON line on stdout (common.announce's form) and runs until its
// stdin closes.
//
// How it holds a client back: the receive queue is one message deep (ReceiveHighMessages 1,
// ReceiveLowMessages 0: wsx.sync's max_queue=(1, 0)), so a handler that does not read stops the
// library from reading the socket (/stall, /hold). A flood is held back when a SendAsync has not
// completed after HELD_BACK_PAUSE: C# has no send that fails instead of waiting, so that send
// stays queued and is delivered once the client reads, and "held_back N" counts it.
// Not served (the scenarios say why): /bad-subprotocol, /invalid-utf8.
// The main paths are served on the Unix domain socket run.py names (WSX_PARITY_UNIX) too, as by
// wsx_server.py; it is not announced (run.py knows the path).
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;
using Wsx;

static class ParityServer
{
    // common.py's constants.
    const long FloodLimit = 96L << 20;
    static readonly TimeSpan HeldBackPause = TimeSpan.FromSeconds(0.5);
    static readonly TimeSpan SideWait = TimeSpan.FromSeconds(15);
    static readonly TimeSpan WaitClosed = TimeSpan.FromSeconds(20);

    /// <summary>The rendezvous of a connection and its side requests (common.Board).</summary>
    static class Board
    {
        static readonly Dictionary<string, string> values = new Dictionary<string, string>();

        public static void Post(string key, string value)
        {
            lock (values)
            {
                values[key] = value;
                Monitor.PulseAll(values);
            }
        }

        public static string Wait(string key)
        {
            var deadline = DateTime.UtcNow + SideWait;
            lock (values)
            {
                string value;
                while (!values.TryGetValue(key, out value))
                {
                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero || !Monitor.Wait(values, left) && !values.ContainsKey(key))
                        return null;
                }
                return value;
            }
        }
    }

    /// <summary>The server whose counters /metrics serves (the main endpoint's).</summary>
    static WsxServer metered;
    /// <summary>The loops endpoint's server, which /room publishes on.</summary>
    static WsxServer rooms;

    static string PathOf(string target)
    {
        var q = target.IndexOf('?');
        return q < 0 ? target : target.Substring(0, q);
    }

    static Dictionary<string, string> Query(string target)
    {
        var query = new Dictionary<string, string>();
        var q = target.IndexOf('?');
        if (q < 0)
            return query;
        foreach (var pair in target.Substring(q + 1).Split('&'))
        {
            var eq = pair.IndexOf('=');
            if (eq > 0)
                query[pair.Substring(0, eq)] = Uri.UnescapeDataString(pair.Substring(eq + 1).Replace('+', ' '));
        }
        return query;
    }

    static KeyValuePair<string, string> Header(string name, string value)
    {
        return new KeyValuePair<string, string>(name, value);
    }

    /// <summary>process_request of wsx_server.py: the HTTP answers, for handshakes and plain HTTP alike.</summary>
    static void OnUpgrading(object sender, WsxUpgradeEventArgs e)
    {
        var path = PathOf(e.Path);
        IEnumerable<string> auth;
        if (path == "/auth" && !(e.Headers.TryGetValue("Authorization", out auth) && auth.Contains("Bearer parity")))
        {
            e.AddResponseHeader("WWW-Authenticate", "Basic realm=\"wsx\"");
            e.Refuse(401, "Unauthorized");
        }
        else if (path == "/upgrade-required")
        {
            e.AddResponseHeader("Sec-WebSocket-Version", "13");
            e.Refuse(426, "Upgrade Required");
        }
        else if (path == "/healthz")
            e.Respond(200, "ok\n");
        else if (path == "/moved")
            e.Respond(302, new[] { Header("Location", "/echo") });
        else if (path == "/metrics" && metered != null)
            e.Respond(200, metered.MetricsText(), new[] { Header("Content-Type", WsxMetrics.ContentType) });
        // else accepted: a handshake opens a connection, plain HTTP gets the library's 426.
    }

    // ------------------------------------------------------------------ connections

    /// <summary>The next message, or null when none came within <paramref name="timeout"/>
    /// (a Close message once the connection is over; an unclean end throws).</summary>
    static WsxMessage Receive(WsxServerConnection conn, TimeSpan timeout)
    {
        using (var cts = new CancellationTokenSource(timeout))
        {
            try
            {
                return conn.ReceiveAsync(cts.Token).GetAwaiter().GetResult();
            }
            catch (OperationCanceledException)
            {
                return null;
            }
        }
    }

    /// <summary>Messages until the connection is over (or none came within timeout).</summary>
    static IEnumerable<WsxMessage> Messages(WsxServerConnection conn, TimeSpan timeout)
    {
        for (;;)
        {
            WsxMessage m;
            try
            {
                m = Receive(conn, timeout);
            }
            catch (WebSocketException)
            {
                yield break; // ended without a close handshake
            }
            catch (ObjectDisposedException)
            {
                yield break; // its server was disposed (a restart)
            }
            if (m == null || m.MessageType == WebSocketMessageType.Close)
                yield break;
            yield return m;
        }
    }

    static readonly TimeSpan Forever = Timeout.InfiniteTimeSpan;

    static void WaitClosedFor(WsxServerConnection conn, TimeSpan timeout)
    {
        foreach (var _ in Messages(conn, timeout))
        {
        }
    }

    static void Send(WsxServerConnection conn, WsxMessage m)
    {
        var data = new ArraySegment<byte>(m.Data);
        conn.SendAsync(data, m.MessageType, CancellationToken.None).Wait();
    }

    static void SendText(WsxServerConnection conn, string text)
    {
        try
        {
            conn.SendAsync(text, CancellationToken.None).Wait();
        }
        catch (AggregateException)
        {
            // The client left: nothing to answer.
        }
    }

    static byte[] Payload(int size)
    {
        var data = new byte[size];
        for (int i = 0; i < size; i++)
            data[i] = (byte)(i % 251);
        return data;
    }

    static void Flood(WsxServerConnection conn, string id, int size)
    {
        var message = new ArraySegment<byte>(Payload(size));
        long sent = 0;
        var state = "not_held_back";
        while (sent * size < FloodLimit)
        {
            var send = conn.SendAsync(message, WebSocketMessageType.Binary, CancellationToken.None);
            // Outrunning a reader is not being held back by it: held back is a send still
            // waiting after a while (it goes out once the client reads, so it counts).
            if (!send.IsCompleted && !send.Wait(HeldBackPause))
            {
                state = "held_back";
                sent++;
                break;
            }
            if (send.IsFaulted)
                break;
            sent++;
        }
        Board.Post("flood:" + id, state);
        SendText(conn, state + " " + sent);
        WaitClosedFor(conn, TimeSpan.FromSeconds(60));
    }

    static void Stall(WsxServerConnection conn, string id)
    {
        Board.Wait("release:" + id);
        int count = Messages(conn, Forever).TakeWhile(m => !(m.MessageType == WebSocketMessageType.Text && m.Text == "end")).Count();
        SendText(conn, "received " + count + " messages");
        WaitClosedFor(conn, WaitClosed);
    }

    static void AnswerSide(WsxServerConnection conn, string key)
    {
        SendText(conn, Board.Wait(key) ?? "timed out");
        WaitClosedFor(conn, WaitClosed);
    }

    static void Record(WsxServerConnection conn, string id)
    {
        string reason = "";
        try
        {
            for (;;)
            {
                var m = Receive(conn, Forever);
                if (m.MessageType == WebSocketMessageType.Close)
                {
                    // The peer's reason, as websockets' close_reason.
                    reason = conn.CloseStatusDescription ?? "";
                    break;
                }
            }
        }
        catch (WebSocketException)
        {
            // No close frame came: 1006 and no reason.
        }
        Board.Post("closed:" + id, (int)(conn.CloseStatus ?? (WebSocketCloseStatus)1006) + ":" + reason);
    }

    /// <summary>/room?id=U: joins topic "room:U", says "joined", then "publish X" publishes X to the
    /// room (the sender included) and answers "reached N"; anything else is echoed.</summary>
    static void Room(WsxServerConnection conn, string topic)
    {
        conn.Subscribe(topic);
        SendText(conn, "joined");
        foreach (var m in Messages(conn, Forever))
        {
            if (m.MessageType == WebSocketMessageType.Text && m.Text.StartsWith("publish ", StringComparison.Ordinal))
                SendText(conn, "reached " + rooms.Publish(topic, m.Text.Substring("publish ".Length)));
            else
                Send(conn, m);
        }
    }

    static void Handle(WsxServerConnection conn)
    {
        var path = PathOf(conn.RequestPath);
        var q = Query(conn.RequestPath);
        string id;
        q.TryGetValue("id", out id);
        switch (path)
        {
            case "/whoami":
                SendText(conn, conn.PeerSubject ?? "");
                WaitClosedFor(conn, WaitClosed);
                break;
            case "/echo":
            case "/auth":
            case "/host":
                IEnumerable<string> host;
                if (path == "/host")
                    SendText(conn, conn.RequestHeaders.TryGetValue("Host", out host) ? host.First() : "");
                foreach (var m in Messages(conn, Forever))
                    Send(conn, m);
                break;
            case "/record":
                Record(conn, id);
                break;
            case "/closed":
                AnswerSide(conn, "closed:" + id);
                break;
            case "/close":
                // No code means a close frame without a status code (Empty, 1005).
                string code, reason;
                var status = q.TryGetValue("code", out code) ? (WebSocketCloseStatus)int.Parse(code) : WebSocketCloseStatus.Empty;
                q.TryGetValue("reason", out reason);
                conn.CloseOutputAsync(status, status == WebSocketCloseStatus.Empty ? null : reason ?? "", CancellationToken.None).Wait();
                WaitClosedFor(conn, WaitClosed);
                break;
            case "/flood":
                Flood(conn, id, int.Parse(q["size"]));
                break;
            case "/status":
                AnswerSide(conn, "flood:" + id);
                break;
            case "/stall":
                Stall(conn, id);
                break;
            case "/release":
                Board.Post("release:" + id, "released");
                SendText(conn, "released");
                WaitClosedFor(conn, WaitClosed);
                break;
            case "/hold":
                var deadline = DateTime.UtcNow + WaitClosed;
                while (conn.State != WebSocketState.Closed && conn.State != WebSocketState.Aborted && DateTime.UtcNow < deadline)
                    Thread.Sleep(50);
                break;
            case "/room":
                Room(conn, "room:" + id);
                break;
            case "/send":
                conn.SendAsync(new ArraySegment<byte>(Payload(int.Parse(q["size"]))), WebSocketMessageType.Binary, CancellationToken.None).Wait();
                WaitClosedFor(conn, WaitClosed);
                break;
            default:
                conn.CloseOutputAsync(WebSocketCloseStatus.PolicyViolation, "no such path " + path, CancellationToken.None).Wait();
                WaitClosedFor(conn, WaitClosed);
                break;
        }
    }

    /// <summary>A connection's handler on a thread of its own; when it returns, the connection closes (1000).</summary>
    static void Serve(WsxServerConnection conn, Action<WsxServerConnection> handler)
    {
        var thread = new Thread(() =>
        {
            try
            {
                handler(conn);
                if (conn.State == WebSocketState.Open || conn.State == WebSocketState.CloseReceived)
                    conn.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).Wait();
            }
            catch (AggregateException)
            {
                // The client left: the connection is over already.
            }
            catch (WebSocketException)
            {
            }
            catch (ObjectDisposedException)
            {
                // Its server was disposed (a restart) while the handler still used it.
            }
        }) { IsBackground = true };
        thread.Start();
    }

    // ------------------------------------------------------------------ endpoints

    /// <summary>wsx_server.py's OPTIONS: subprotocols superchat then chat, the HTTP answers for
    /// plain requests too, no keepalive, a one-message receive queue.</summary>
    static WsxServerOptions Options(string host = "127.0.0.1", int port = 0)
    {
        var options = new WsxServerOptions
        {
            Host = host,
            Port = port,
            AnswerPlainHttp = true,
            KeepAliveInterval = TimeSpan.Zero,
            ReceiveHighMessages = 1,
            ReceiveLowMessages = 0,
        };
        options.SubProtocols.Add("superchat");
        options.SubProtocols.Add("chat");
        return options;
    }

    static WsxServer Listen(WsxServerOptions options, Action<WsxServerConnection> handler)
    {
        var server = new WsxServer(options);
        server.Upgrading += OnUpgrading;
        server.ClientConnected += (s, e) => Serve((WsxServerConnection)e.Connection, handler);
        server.Error += (s, e) =>
        {
            if (e.Connection == null)
                Console.Error.WriteLine("ParityServer: " + e.Exception.Message);
        };
        server.Start();
        return server;
    }

    /// <summary>The restart endpoint: the text "restart" shuts the server down (1001 to every
    /// connection) and serves again on the same port; the text "drain" does the same with the
    /// drain's 1012 "restart".</summary>
    sealed class Restartable
    {
        WsxServer server;
        public readonly int Port;

        public Restartable()
        {
            server = Listen(Options(), Handle);
            Port = server.Port;
        }

        void Handle(WsxServerConnection conn)
        {
            foreach (var m in Messages(conn, Forever))
            {
                if (m.MessageType == WebSocketMessageType.Text && (m.Text == "restart" || m.Text == "drain"))
                {
                    var restart = m.Text == "restart";
                    new Thread(() => Restart(restart)) { IsBackground = true }.Start();
                    WaitClosedFor(conn, WaitClosed); // the drain closes it with the code
                    return;
                }
                Send(conn, m);
            }
        }

        void Restart(bool restart)
        {
            var old = server;
            old.DrainAsync(restart ? WebSocketCloseStatus.EndpointUnavailable : (WebSocketCloseStatus)1012,
                           restart ? null : "restart", TimeSpan.FromSeconds(5)).Wait();
            old.Dispose();
            if (restart)
                Thread.Sleep(200);
            server = Listen(Options(port: Port), Handle);
        }
    }

    static string TlsPath(string file)
    {
        var dir = Environment.GetEnvironmentVariable("WSX_PARITY_TLS");
        if (dir == null)
            throw new InvalidOperationException("WSX_PARITY_TLS is not set");
        return Path.Combine(dir, file);
    }

    static int Main()
    {
        var main = Listen(Options(), Handle);
        metered = main;
        var ipv6 = Listen(Options("::1"), Handle);
        var originOptions = Options();
        originOptions.AllowedOrigins = new List<string> { "https://good.example" };
        var origin = Listen(originOptions, Handle);
        Restartable restartable = new Restartable(), drainable = new Restartable();
        var mtlsOptions = Options();
        mtlsOptions.CertificateFile = TlsPath("server.pem");
        mtlsOptions.KeyFile = TlsPath("server.key");
        mtlsOptions.ClientCaFile = TlsPath("client-ca.pem");
        mtlsOptions.ClientCertificateRequired = true;
        var mtls = Listen(mtlsOptions, Handle);
        var deflateOptions = Options();
        deflateOptions.Compression = new WsxDeflateOptions();
        var deflate = Listen(deflateOptions, Handle);
        var sharedOptions = Options();
        sharedOptions.Compression = new WsxDeflateOptions { SharedCompressor = true };
        var deflateShared = Listen(sharedOptions, Handle);
        // The main paths and /room on a server spread over two network threads.
        var loopsOptions = Options();
        loopsOptions.Loops = 2;
        var loops = Listen(loopsOptions, Handle);
        rooms = loops;
        var unixOptions = Options();
        unixOptions.UnixSocketPath = Environment.GetEnvironmentVariable("WSX_PARITY_UNIX");
        var unix = Listen(unixOptions, Handle);
        Console.Out.WriteLine(
            "{\"main\": " + main.Port + ", \"origin\": " + origin.Port + ", \"restart\": " + restartable.Port +
            ", \"drain\": " + drainable.Port + ", \"mtls\": " + mtls.Port + ", \"ipv6\": " + ipv6.Port +
            ", \"deflate\": " + deflate.Port + ", \"deflate_shared\": " + deflateShared.Port +
            ", \"loops\": " + loops.Port + "}");
        Console.Out.Flush();
        // Runs until run.py closes stdin (common.wait_for_stdin_eof).
        while (Console.In.Read() >= 0)
        {
        }
        GC.KeepAlive(unix); // announced by no port: kept serving until here
        Environment.Exit(0);
        return 0;
    }
}
