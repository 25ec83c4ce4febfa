// The C# parity runner: runs the flat scenario file that tests/parity/run.py
// writes (FORMAT.md) with the wsx C# binding, used through the
// System.Net.WebSockets.WebSocket API (only the construction line and the
// options are wsx's), maps every result to the suite's language-neutral kinds
// and prints one line per scenario: "ok ID", "FAIL ID: expected .. got ..",
// "skip ID: why". Exit status 1 if any scenario failed.
//
//     mono ParityRunner.exe [--api client|stream] build/parity/py-csharp.flat [id,id,...]
//
// --api client (the default): WsxClient, the library's own connect.
// --api stream: WsxWebSocket.CreateFromStream over a stream the runner opens
// itself (a TcpClient's NetworkStream, an SslStream for wss://) after its own
// HTTP/1.1 upgrade (.NET's CreateFromStream contract: the handshake happens
// elsewhere); the library's sans-I/O engine runs the WebSocket.
// Either way the steps use only the WebSocket API.
//
// Every wait is bounded (the file's timeout): a stuck step fails, never hangs.
// C# 7.2, netstandard2.0 subset (compiled with Mono's mcs).
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Wsx;

sealed class Failed : Exception
{
    public Failed(string message) : base(message) { }
}

/// <summary>One line of the flat file: a keyword and key=value fields (values percent-encoded).</summary>
sealed class Line
{
    public string Keyword;
    public Dictionary<string, string> Fields = new Dictionary<string, string>();

    public static Line Parse(string text)
    {
        var parts = text.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
        var line = new Line { Keyword = parts[0] };
        foreach (var p in parts.Skip(1))
        {
            int eq = p.IndexOf('=');
            line.Fields[p.Substring(0, eq)] = Uri.UnescapeDataString(p.Substring(eq + 1));
        }
        return line;
    }

    public bool Has(string key) { return Fields.ContainsKey(key); }
    public string Str(string key) { return Fields[key]; }
    public string StrOr(string key, string fallback) { string v; return Fields.TryGetValue(key, out v) ? v : fallback; }
    public long Int(string key) { return long.Parse(Fields[key], System.Globalization.CultureInfo.InvariantCulture); }
    public double Num(string key) { return double.Parse(Fields[key], System.Globalization.CultureInfo.InvariantCulture); }
}

sealed class Scenario
{
    public Line Head;
    public string Skip;
    public List<Line> Options = new List<Line>();
    public Line Outcome;
    public List<Line> Steps = new List<Line>();
}

static class Payload
{
    public static byte[] Make(Line step, out WebSocketMessageType type)
    {
        type = step.Str("type") == "text" ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
        if (step.Has("hex"))
        {
            var hex = step.Str("hex");
            var bytes = new byte[hex.Length / 2];
            for (int i = 0; i < bytes.Length; i++)
                bytes[i] = Convert.ToByte(hex.Substring(2 * i, 2), 16);
            return bytes;
        }
        if (step.Has("text"))
            return Encoding.UTF8.GetBytes(step.Str("text"));
        long size = step.Int("size");
        var data = new byte[size];
        if (type == WebSocketMessageType.Text)
            for (long i = 0; i < size; i++) data[i] = (byte)(97 + i % 26);
        else
            for (long i = 0; i < size; i++) data[i] = (byte)(i % 251);
        return data;
    }

    public static string Describe(WebSocketMessageType type, byte[] data)
    {
        var kind = type == WebSocketMessageType.Text ? "text" : "binary";
        if (data.Length <= 40)
            return kind + " '" + (type == WebSocketMessageType.Text ? Encoding.UTF8.GetString(data) : BitConverter.ToString(data)) + "'";
        return kind + " of " + data.Length + " bytes";
    }
}

sealed class Run
{
    readonly Scenario s;
    readonly TimeSpan timeout;
    readonly string uid = Guid.NewGuid().ToString("N").Substring(0, 12);
    int sentUntilBlocked;
    Task pending;
    bool closedByUs;
    bool deflate;
    volatile bool libraryError;
    readonly ManualResetEventSlim reconnected = new ManualResetEventSlim();
    // The names the resolver hook (option resolve) was asked for, and the loop's counters when the scenario began.
    readonly System.Collections.Concurrent.ConcurrentQueue<string> asked = new System.Collections.Concurrent.ConcurrentQueue<string>();
    WsxMetrics before;

    public Run(Scenario scenario, TimeSpan timeout)
    {
        s = scenario;
        this.timeout = timeout;
    }

    string Url(string path) { return path.Replace("{uid}", uid); }

    /// <summary>Waits for <paramref name="task"/> at most <paramref name="limit"/>: false if it is still running.</summary>
    static bool Within(Task task, TimeSpan limit)
    {
        try
        {
            return task.Wait(limit);
        }
        catch (AggregateException e)
        {
            throw e.InnerException;
        }
    }

    T Await<T>(Task<T> task, string what)
    {
        if (!Within(task, timeout))
            throw new Failed(what + ": no result within " + timeout.TotalSeconds + " s");
        return task.Result;
    }

    void Await(Task task, string what)
    {
        if (!Within(task, timeout))
            throw new Failed(what + ": did not finish within " + timeout.TotalSeconds + " s");
    }

    // ------------------------------------------------------------ error kinds

    static string Kind(Exception e, out int? status)
    {
        status = null;
        var wsx = WsxException.Of(e);
        if (wsx == null)
            return e.GetType().FullName + ": " + e.Message;
        status = wsx.HttpStatus;
        switch (wsx.Result)
        {
            case WsxResult.InvalidArgument: return "invalid_option";
            case WsxResult.Handshake: return wsx.HttpStatus.HasValue ? "handshake_refused" : "handshake_invalid";
            case WsxResult.Timeout: return "open_timeout";
            case WsxResult.Connect:
            case WsxResult.Dns: return "connect_failed";
            case WsxResult.Tls: return "tls_failed";
            default: return "wsx " + wsx.Result + ": " + wsx.Message;
        }
    }

    void CheckError(Exception e)
    {
        int? status;
        var kind = Kind(e, out status);
        var want = s.Outcome.Str("error");
        if (kind != want)
            throw new Failed("expected error " + want + " got " + kind + " (" + e.GetType().Name + ": " + e.Message + ")");
        if (s.Outcome.Has("status") && status != s.Outcome.Int("status"))
            throw new Failed("expected status " + s.Outcome.Str("status") + " got " + (status.HasValue ? status.ToString() : "none"));
        if (s.Outcome.Has("header_name"))
        {
            // The refused response's headers, on the exception (and on the client, as ClientWebSocket's HttpResponseHeaders).
            var headers = WsxException.Of(e).HttpResponseHeaders;
            IEnumerable<string> values;
            var name = s.Outcome.Str("header_name");
            var value = s.Outcome.Str("header_value");
            if (headers == null || !headers.TryGetValue(name, out values) || !values.Contains(value))
                throw new Failed("expected header " + name + ": " + value + " got " + (headers == null ? "no response headers" :
                    "[" + string.Join("; ", headers.Select(h => h.Key + ": " + string.Join(",", h.Value))) + "]"));
        }
    }

    // ---------------------------------------------------------------- options

    WsxClient Client(List<Line> options)
    {
        var ws = new WsxClient();
        var o = ws.Options;
        foreach (var opt in options)
        {
            if (opt.Has("subprotocol")) o.AddSubProtocol(opt.Str("subprotocol"));
            else if (opt.Has("header_name")) o.SetRequestHeader(opt.Str("header_name"), opt.Str("header_value"));
            else if (opt.Has("origin")) o.Origin = opt.Str("origin");
            else if (opt.Has("ca_file")) o.CaFile = opt.Str("ca_file");
            else if (opt.Has("client_cert")) o.SetClientCertificate(opt.Str("client_cert"), opt.Str("client_key"));
            else if (opt.Has("unix_socket_path")) o.UnixSocketPath = opt.Str("unix_socket_path");
            else if (opt.Has("max_size")) o.MaxMessageSize = opt.Int("max_size");
            else if (opt.Has("open_timeout"))
            {
                o.ConnectTimeout = TimeSpan.FromSeconds(opt.Num("open_timeout"));
                o.HandshakeTimeout = TimeSpan.FromSeconds(opt.Num("open_timeout"));
            }
            else if (opt.Has("ping_interval")) o.KeepAliveInterval = TimeSpan.FromSeconds(opt.Num("ping_interval"));
            else if (opt.Has("ping_timeout")) o.KeepAliveTimeout = TimeSpan.FromSeconds(opt.Num("ping_timeout"));
            else if (opt.Has("close_timeout")) o.CloseTimeout = TimeSpan.FromSeconds(opt.Num("close_timeout"));
            else if (opt.Has("reconnect"))
            {
                var policy = new WsxReconnectPolicy();
                if (opt.Has("initial_delay")) policy.InitialDelay = TimeSpan.FromSeconds(opt.Num("initial_delay"));
                if (opt.Has("max_delay")) policy.MaxDelay = TimeSpan.FromSeconds(opt.Num("max_delay"));
                if (opt.Has("max_attempts")) policy.MaxAttempts = (int)opt.Int("max_attempts");
                if (opt.Has("factor")) policy.Factor = opt.Num("factor");
                o.Reconnect = policy;
            }
            else if (opt.Has("max_queue")) o.MaxQueue = opt.Int("max_queue");
            else if (opt.Has("compression"))
            {
                if (opt.Int("compression") == 0)
                    o.Compression = null; // offer no permessage-deflate (on by default)
            }
            else if (opt.Has("resolve"))
            {
                var addresses = opt.Str("resolve").Split(',');
                o.Resolver = (host, port) =>
                {
                    asked.Enqueue(host);
                    return Task.FromResult(addresses.Select(a => Endpoint(a, port)));
                };
            }
            else
                throw new Failed("runner does not know option " + string.Join(",", opt.Fields.Keys));
        }
        ws.Error += (sender, e) => libraryError = true;
        ws.Connected += (sender, e) => { if (e.IsReconnect) reconnected.Set(); };
        return ws;
    }

    /// <summary>"[v6]:port", "v4:port", or a bare address (on <paramref name="port"/>).</summary>
    static IPEndPoint Endpoint(string text, int port)
    {
        int split = text.LastIndexOf(':');
        if (text.StartsWith("[") || (split > 0 && text.IndexOf(':') == split))
            return new IPEndPoint(IPAddress.Parse(text.Substring(0, split).Trim('[', ']')), int.Parse(text.Substring(split + 1)));
        return new IPEndPoint(IPAddress.Parse(text), port);
    }

    /// <summary>A loop counter by its scenario name (closes_1000: closes with 1000).</summary>
    static long Counter(WsxMetrics m, string name)
    {
        switch (name)
        {
            case "connections_open": return m.ConnectionsOpen;
            case "connections_opened": return m.ConnectionsOpened;
            case "messages_in": return m.MessagesIn;
            case "messages_out": return m.MessagesOut;
            case "bytes_in": return m.BytesIn;
            case "bytes_out": return m.BytesOut;
            case "closes_1000": return m.Closes[1000];
            default: throw new Failed("runner does not know counter " + name);
        }
    }

    // ---------------------------------------------------------------- messages

    sealed class Received
    {
        public WebSocketMessageType Type;
        public byte[] Data;
        public WebSocketCloseStatus? CloseStatus;
        public string CloseDescription;
    }

    async Task<Received> ReceiveMessage(WebSocket ws, CancellationToken ct)
    {
        var buffer = new byte[64 * 1024];
        var ms = new MemoryStream();
        while (true)
        {
            var r = await ws.ReceiveAsync(new ArraySegment<byte>(buffer), ct).ConfigureAwait(false);
            if (r.MessageType == WebSocketMessageType.Close)
                return new Received { Type = r.MessageType, CloseStatus = r.CloseStatus, CloseDescription = r.CloseStatusDescription };
            ms.Write(buffer, 0, r.Count);
            if (r.EndOfMessage)
                return new Received { Type = r.MessageType, Data = ms.ToArray() };
        }
    }

    Received Receive(WebSocket ws, string what)
    {
        using (var cts = new CancellationTokenSource(timeout))
        {
            try
            {
                return Await(ReceiveMessage(ws, cts.Token), what);
            }
            catch (OperationCanceledException)
            {
                throw new Failed(what + ": no message within " + timeout.TotalSeconds + " s");
            }
        }
    }

    /// <summary>
    /// <c>count</c> more connections join the main one's room (each answered "joined"); the main one
    /// publishes <c>text</c> to the room: every member gets it once (the echo of a probe sent after
    /// it comes next), and the publisher hears how many it reached.
    /// </summary>
    void Fanout(WebSocket ws, Line step)
    {
        var text = step.Str("text");
        var all = new List<WebSocket> { ws };
        try
        {
            for (long i = 0; i < step.Int("count"); i++)
            {
                bool unused;
                all.Add(Open(s.Head.Str("side_base") + Url(step.Str("path")), new List<Line>(), out unused));
                ExpectText(all[all.Count - 1], "joined", "member");
            }
            SendText(ws, "publish " + text);
            ExpectText(ws, text, "publisher");
            ExpectText(ws, "reached " + all.Count, "publisher");
            for (int i = 1; i < all.Count; i++)
                ExpectText(all[i], text, "member " + i);
            for (int i = 0; i < all.Count; i++)
            {
                SendText(all[i], "probe");
                ExpectText(all[i], "probe", "connection " + i + " (after the publication)");
            }
        }
        finally
        {
            for (int i = 1; i < all.Count; i++)
            {
                try { Within(all[i].CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None), timeout); }
                catch (Exception) { }
                all[i].Dispose();
            }
        }
    }

    void SendText(WebSocket ws, string text)
    {
        var data = Encoding.UTF8.GetBytes(text);
        Await(ws.SendAsync(new ArraySegment<byte>(data), WebSocketMessageType.Text, true, CancellationToken.None), "send");
    }

    void ExpectText(WebSocket ws, string want, string who)
    {
        var got = Receive(ws, "fanout, " + who);
        var text = got.Data == null ? "(closed)" : Encoding.UTF8.GetString(got.Data);
        if (got.Type != WebSocketMessageType.Text || text != want)
            throw new Failed("fanout, " + who + ": expected '" + want + "' got '" + text + "'");
    }

    static bool Same(byte[] a, byte[] b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++) if (a[i] != b[i]) return false;
        return true;
    }

    // ---------------------------------------------------------------- scenario

    /// <summary>
    /// A connection to <paramref name="url"/> with <paramref name="options"/> through the API under
    /// test; <paramref name="deflate"/>: whether the handshake agreed permessage-deflate.
    /// </summary>
    WebSocket Open(string url, List<Line> options, out bool deflate)
    {
        if (Program.StreamApi)
            return StreamSocket.Open(url, options, timeout, out deflate);
        var ws = Client(options);
        try
        {
            Await(ws.ConnectAsync(new Uri(url), CancellationToken.None), "connect");
        }
        catch (Exception)
        {
            ws.Dispose();
            throw;
        }
        // The handshake's response says what the library agreed.
        IEnumerable<string> extensions;
        deflate = ws.HttpResponseHeaders.TryGetValue("Sec-WebSocket-Extensions", out extensions) &&
                  extensions.Any(e => e.Contains("permessage-deflate"));
        return ws;
    }

    public void Execute()
    {
        WebSocket ws;
        try
        {
            if (!Program.StreamApi)
                before = WsxLoop.Metrics;
            ws = Open(Url(s.Head.Str("url")), s.Options, out deflate);
        }
        catch (Failed)
        {
            throw;
        }
        catch (Exception e)
        {
            if (s.Outcome == null)
            {
                int? status;
                throw new Failed("expected the connection to open got " + Kind(e, out status) + " (" + e.Message + ")");
            }
            CheckError(e);
            return;
        }
        using (ws)
        {
            if (s.Outcome != null)
                throw new Failed("expected error " + s.Outcome.Str("error") + " got an open connection");
            try
            {
                foreach (var step in s.Steps)
                    Step(ws, step);
            }
            finally
            {
                if (!closedByUs && ws.State == WebSocketState.Open)
                {
                    try { Within(ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None), timeout); }
                    catch (Exception) { }
                }
            }
        }
    }

    void Step(WebSocket ws, Line step)
    {
        var op = step.Str("op");
        switch (op)
        {
            case "send":
                {
                    WebSocketMessageType type;
                    var data = Payload.Make(step, out type);
                    Await(ws.SendAsync(new ArraySegment<byte>(data), type, true, CancellationToken.None), "send");
                    break;
                }
            case "send_many":
                {
                    WebSocketMessageType type;
                    var data = Payload.Make(step, out type);
                    for (long i = 0; i < step.Int("count"); i++)
                    {
                        try
                        {
                            Await(ws.SendAsync(new ArraySegment<byte>(data), type, true, CancellationToken.None), "send");
                        }
                        catch (Failed) { throw; }
                        catch (Exception)
                        {
                            return; // closed: the next step says whether that was expected
                        }
                    }
                    break;
                }
            case "send_fragments":
                {
                    // One message in fragments: SendAsync with endOfMessage false, then true on the last.
                    var type = step.Str("type") == "text" ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
                    var pieces = step.Str("pieces").Split(',');
                    for (int i = 0; i < pieces.Length; i++)
                    {
                        var bytes = new byte[pieces[i].Length / 2];
                        for (int j = 0; j < bytes.Length; j++)
                            bytes[j] = Convert.ToByte(pieces[i].Substring(2 * j, 2), 16);
                        Await(ws.SendAsync(new ArraySegment<byte>(bytes), type, i == pieces.Length - 1, CancellationToken.None), "send fragment");
                    }
                    break;
                }
            case "abort":
                closedByUs = true;
                ws.Abort();
                break;
            case "expect":
                {
                    WebSocketMessageType type;
                    byte[] want;
                    if (step.Has("text") && step.Str("text").Contains("{sent}"))
                    {
                        type = WebSocketMessageType.Text;
                        want = Encoding.UTF8.GetBytes(step.Str("text").Replace("{sent}", sentUntilBlocked.ToString()));
                    }
                    else
                        want = Payload.Make(step, out type);
                    var got = Receive(ws, "expect");
                    if (got.Type == WebSocketMessageType.Close)
                        throw new Failed("expected " + Payload.Describe(type, want) + " got closed " + (int?)got.CloseStatus + " " + got.CloseDescription);
                    if (got.Type != type || !Same(got.Data, want))
                        throw new Failed("expected " + Payload.Describe(type, want) + " got " + Payload.Describe(got.Type, got.Data));
                    break;
                }
            case "close":
                {
                    closedByUs = true;
                    var status = step.Has("code") ? (WebSocketCloseStatus)step.Int("code") : WebSocketCloseStatus.Empty;
                    var reason = step.Has("code") ? step.StrOr("reason", "") : null;
                    Await(ws.CloseAsync(status, reason, CancellationToken.None), "close");
                    break;
                }
            case "expect_closed":
                {
                    if (!closedByUs)
                    {
                        try
                        {
                            var got = Receive(ws, "expect_closed");
                            if (got.Type != WebSocketMessageType.Close)
                                throw new Failed("expected closed got " + Payload.Describe(got.Type, got.Data));
                        }
                        catch (Failed) { throw; }
                        catch (Exception) { libraryError = true; } // the failure that ended the connection
                    }
                    // The state settles once the close handshake is over.
                    var deadline = DateTime.UtcNow + timeout;
                    while ((ws.State != WebSocketState.Closed && ws.State != WebSocketState.Aborted || ws.CloseStatus == null) && DateTime.UtcNow < deadline)
                        Thread.Sleep(10);
                    int? code = (int?)ws.CloseStatus;
                    var reason = ws.CloseStatusDescription ?? "";
                    var by = closedByUs || libraryError ? "local" : "remote";
                    var gotText = "code " + code + " reason '" + reason + "' by " + by + " (state " + ws.State + ")";
                    if (step.Has("code") && code != step.Int("code"))
                        throw new Failed("expected closed code " + step.Str("code") + " got " + gotText);
                    if (step.Has("reason") && reason != step.Str("reason"))
                        throw new Failed("expected closed reason '" + step.Str("reason") + "' got " + gotText);
                    if (step.Has("by") && by != step.Str("by"))
                        throw new Failed("expected closed by " + step.Str("by") + " got " + gotText);
                    break;
                }
            case "expect_subprotocol":
                {
                    var want = step.Has("value") ? step.Str("value") : null;
                    if (ws.SubProtocol != want)
                        throw new Failed("expected subprotocol '" + want + "' got '" + ws.SubProtocol + "'");
                    break;
                }
            case "expect_deflate":
                {
                    var want = step.Int("value") != 0;
                    if (deflate != want)
                        throw new Failed("expected permessage-deflate " + (want ? "on" : "off") + " got " + (deflate ? "on" : "off"));
                    break;
                }
            case "side":
                {
                    bool unused;
                    using (var side = Open(s.Head.Str("side_base") + Url(step.Str("path")), new List<Line>(), out unused))
                    {
                        var got = Receive(side, "side");
                        var text = got.Data == null ? "(closed)" : Encoding.UTF8.GetString(got.Data);
                        try { Within(side.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None), timeout); }
                        catch (Exception) { }
                        if (text != step.Str("expect_text"))
                            throw new Failed("side request " + step.Str("path") + ": expected '" + step.Str("expect_text") + "' got '" + text + "'");
                    }
                    break;
                }
            case "fanout":
                Fanout(ws, step);
                break;
            case "drain_flood":
                {
                    var want = Payload.Make(new Line { Fields = { { "type", "binary" }, { "size", step.Str("size") } } }, out _);
                    int count = 0;
                    while (true)
                    {
                        var got = Receive(ws, "drain_flood");
                        if (got.Type == WebSocketMessageType.Close)
                            throw new Failed("flood: closed after " + count + " messages");
                        if (got.Type == WebSocketMessageType.Text)
                        {
                            var text = Encoding.UTF8.GetString(got.Data);
                            if (text != "held_back " + count)
                                throw new Failed("expected 'held_back " + count + "' after " + count + " messages got '" + text + "'");
                            break;
                        }
                        if (!Same(got.Data, want))
                            throw new Failed("flood message " + count + ": expected binary of " + want.Length + " bytes got " + Payload.Describe(got.Type, got.Data));
                        count++;
                    }
                    break;
                }
            case "send_until_blocked":
                {
                    WebSocketMessageType type;
                    var data = Payload.Make(step, out type);
                    for (long i = 0; i < step.Int("max"); i++)
                    {
                        var t = ws.SendAsync(new ArraySegment<byte>(data), type, true, CancellationToken.None);
                        sentUntilBlocked++;
                        // A send not finished in a second is held back (no timing is asserted:
                        // a slow machine can only make a send look held back later).
                        if (!Within(t, TimeSpan.FromSeconds(1)))
                        {
                            pending = t;
                            return;
                        }
                    }
                    throw new Failed("expected a send to be held back got " + step.Str("max") + " sends of " + data.Length + " bytes all done");
                }
            case "finish_pending":
                if (pending == null || !Within(pending, timeout))
                    throw new Failed("the held-back send did not finish within " + timeout.TotalSeconds + " s after the release");
                break;
            case "expect_resolved":
                if (string.Join(",", asked) != step.Str("host"))
                    throw new Failed("expected the resolver asked for '" + step.Str("host") + "' once got '" + string.Join(",", asked) + "'");
                break;
            case "loop_metrics":
                {
                    // The changes since the scenario began (waited for: counted on the loop thread).
                    var want = step.Fields.Where(f => f.Key != "op").ToList();
                    var deadline = DateTime.UtcNow + timeout;
                    while (true)
                    {
                        var now = WsxLoop.Metrics;
                        var got = want.Select(f => f.Key + "=" + (Counter(now, f.Key) - Counter(before, f.Key))).ToList();
                        if (got.SequenceEqual(want.Select(f => f.Key + "=" + f.Value)))
                            break;
                        if (DateTime.UtcNow > deadline)
                            throw new Failed("expected loop counters to change by " + string.Join(" ", want.Select(f => f.Key + "=" + f.Value)) + " got " + string.Join(" ", got));
                        Thread.Sleep(10);
                    }
                    break;
                }
            case "wait_reconnected":
                {
                    // WsxClient raises Connected after every handshake, IsReconnect after a reconnect.
                    if (!reconnected.Wait(timeout))
                        throw new Failed("expected a reconnect got none within " + timeout.TotalSeconds + " s (state " + ws.State + ")");
                    break;
                }
            default:
                throw new Failed("runner does not know step " + op);
        }
    }
}

static class Program
{
    /// <summary>--api stream: WsxWebSocket.CreateFromStream rather than WsxClient.</summary>
    internal static bool StreamApi;

    static int Main(string[] args)
    {
        if (args.Length > 1 && args[0] == "--api")
        {
            if (args[1] != "stream" && args[1] != "client")
                throw new ArgumentException("--api client|stream");
            StreamApi = args[1] == "stream";
            args = args.Skip(2).ToArray();
        }
        var only = new HashSet<string>(args.Length > 1 ? args[1].Split(',') : new string[0]);
        var scenarios = new List<Scenario>();
        double timeoutSeconds = 10;
        Scenario cur = null;
        foreach (var raw in File.ReadAllLines(args[0]))
        {
            if (raw.Trim().Length == 0) continue;
            var line = Line.Parse(raw);
            switch (line.Keyword)
            {
                case "defaults": timeoutSeconds = line.Num("timeout"); break;
                case "scenario": cur = new Scenario { Head = line }; break;
                case "skip": cur.Skip = line.Str("reason"); break;
                case "option": cur.Options.Add(line); break;
                case "outcome": cur.Outcome = line; break;
                case "step": cur.Steps.Add(line); break;
                case "end": scenarios.Add(cur); cur = null; break;
                default: throw new InvalidDataException("unknown line: " + raw);
            }
        }
        int failed = 0;
        foreach (var s in scenarios)
        {
            var id = s.Head.Str("id");
            if (only.Count > 0 && !only.Contains(id)) continue;
            if (s.Skip != null)
            {
                Console.WriteLine("skip " + id + ": " + s.Skip);
                continue;
            }
            try
            {
                new Run(s, TimeSpan.FromSeconds(timeoutSeconds)).Execute();
                Console.WriteLine("ok " + id);
            }
            catch (Failed e)
            {
                failed++;
                Console.WriteLine("FAIL " + id + ": " + e.Message);
            }
            catch (Exception e)
            {
                failed++;
                Console.WriteLine("FAIL " + id + ": unexpected " + e.GetType().Name + ": " + e.Message);
            }
            Console.Out.Flush();
        }
        return failed > 0 ? 1 : 0;
    }
}

/// <summary>
/// The stream API's connection: a TcpClient's NetworkStream (an SslStream over it for wss://),
/// the runner's own HTTP/1.1 upgrade on it (what a program using CreateFromStream has its HTTP
/// stack do), then WsxWebSocket.CreateFromStream with what the handshake agreed.
/// </summary>
static class StreamSocket
{
    const string Guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

    public static WebSocket Open(string url, List<Line> options, TimeSpan timeout, out bool deflate)
    {
        var uri = new Uri(url);
        var creation = new WsxWebSocketCreationOptions();
        var protocols = new List<string>();
        var headers = new List<KeyValuePair<string, string>>();
        string caFile = null, clientCert = null;
        bool offerDeflate = true; // as WsxClient: offered unless turned off
        foreach (var opt in options)
        {
            if (opt.Has("subprotocol")) protocols.Add(opt.Str("subprotocol"));
            else if (opt.Has("header_name")) headers.Add(new KeyValuePair<string, string>(opt.Str("header_name"), opt.Str("header_value")));
            else if (opt.Has("origin")) headers.Add(new KeyValuePair<string, string>("Origin", opt.Str("origin")));
            else if (opt.Has("ca_file")) caFile = opt.Str("ca_file");
            else if (opt.Has("client_cert")) clientCert = opt.Str("client_cert");
            else if (opt.Has("max_size")) creation.MaxMessageSize = creation.MaxFrameSize = opt.Int("max_size");
            else if (opt.Has("ping_interval")) creation.KeepAliveInterval = TimeSpan.FromSeconds(opt.Num("ping_interval"));
            else if (opt.Has("ping_timeout")) creation.KeepAliveTimeout = TimeSpan.FromSeconds(opt.Num("ping_timeout"));
            else if (opt.Has("close_timeout")) creation.CloseTimeout = TimeSpan.FromSeconds(opt.Num("close_timeout"));
            else if (opt.Has("compression")) offerDeflate = opt.Int("compression") != 0;
            else
                throw new Failed("the stream API has no option " + string.Join(",", opt.Fields.Keys) + " (a cannot_express entry should skip this)");
        }
        // The suite's hosts are address literals (127.0.0.1, [::1]).
        var address = IPAddress.Parse(uri.DnsSafeHost);
        var tcp = new TcpClient(address.AddressFamily);
        Stream stream = null;
        try
        {
            if (!tcp.ConnectAsync(address, uri.Port).Wait(timeout))
                throw new Failed("connect: no connection within " + timeout.TotalSeconds + " s");
            tcp.NoDelay = true;
            stream = tcp.GetStream();
            if (uri.Scheme == "wss")
                stream = Tls(stream, uri.Host, caFile, clientCert, timeout);
            WsxWebSocketDeflateOptions agreed;
            creation.SubProtocol = Upgrade(stream, uri, protocols, headers, offerDeflate, out agreed);
            creation.DangerousDeflateOptions = agreed;
            deflate = agreed != null;
            return WsxWebSocket.CreateFromStream(stream, creation);
        }
        catch (Exception)
        {
            if (stream != null) stream.Dispose();
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>TLS over <paramref name="stream"/>: the server certificate checked against <paramref name="caFile"/>, alice's (PKCS#12 beside its PEM) presented when given.</summary>
    static Stream Tls(Stream stream, string host, string caFile, string clientCert, TimeSpan timeout)
    {
        var ca = caFile == null ? null : new X509Certificate2(File.ReadAllBytes(caFile));
        var ssl = new SslStream(stream, false, (sender, certificate, chain, errors) =>
        {
            if (errors == SslPolicyErrors.None)
                return true;
            if (ca == null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
                return false;
            // Signed by the test CA: the chain ends at it.
            var own = new X509Chain();
            own.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            own.ChainPolicy.VerificationFlags = X509VerificationFlags.AllowUnknownCertificateAuthority;
            own.ChainPolicy.ExtraStore.Add(ca);
            return own.Build(new X509Certificate2(certificate)) &&
                   own.ChainElements[own.ChainElements.Count - 1].Certificate.Thumbprint == ca.Thumbprint;
        });
        var certificates = new X509CertificateCollection();
        if (clientCert != null)
            certificates.Add(new X509Certificate2(Path.ChangeExtension(clientCert, ".p12"), ""));
        if (!ssl.AuthenticateAsClientAsync(host, certificates, SslProtocols.Tls12, false).Wait(timeout))
            throw new Failed("TLS: no handshake within " + timeout.TotalSeconds + " s");
        return ssl;
    }

    /// <summary>
    /// The opening handshake (RFC 6455 4.1), offering permessage-deflate when asked; returns the
    /// subprotocol the server chose, and in <paramref name="deflate"/> the permessage-deflate
    /// parameters it agreed (RFC 7692), or null.
    /// </summary>
    static string Upgrade(Stream stream, Uri uri, List<string> protocols, List<KeyValuePair<string, string>> headers,
                          bool offerDeflate, out WsxWebSocketDeflateOptions deflate)
    {
        var nonce = new byte[16];
        using (var random = RandomNumberGenerator.Create())
            random.GetBytes(nonce);
        var key = Convert.ToBase64String(nonce);
        var request = new StringBuilder();
        request.Append("GET ").Append(uri.PathAndQuery).Append(" HTTP/1.1\r\nHost: ").Append(uri.Authority)
            .Append("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ").Append(key).Append("\r\n");
        if (protocols.Count > 0)
            request.Append("Sec-WebSocket-Protocol: ").Append(string.Join(", ", protocols)).Append("\r\n");
        if (offerDeflate)
            request.Append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
        foreach (var h in headers)
            request.Append(h.Key).Append(": ").Append(h.Value).Append("\r\n");
        var bytes = Encoding.UTF8.GetBytes(request.Append("\r\n").ToString());
        stream.Write(bytes, 0, bytes.Length);
        stream.Flush();
        // The response head, byte by byte: the frames after it are the WebSocket's.
        var head = new List<byte>();
        while (head.Count < 4 || head[head.Count - 4] != '\r' || head[head.Count - 3] != '\n' || head[head.Count - 2] != '\r' || head[head.Count - 1] != '\n')
        {
            int b = stream.ReadByte();
            if (b < 0 || head.Count > 16384)
                throw new Failed("upgrade: the server closed or sent no head (" + head.Count + " bytes)");
            head.Add((byte)b);
        }
        var lines = Encoding.UTF8.GetString(head.ToArray()).Split(new[] { "\r\n" }, StringSplitOptions.RemoveEmptyEntries);
        if (lines[0].Split(' ').ElementAtOrDefault(1) != "101")
            throw new Failed("upgrade: the runner's handshake got " + lines[0]);
        var fields = lines.Skip(1).Select(l => l.Split(new[] { ':' }, 2)).Where(f => f.Length == 2)
            .ToLookup(f => f[0].Trim().ToLowerInvariant(), f => f[1].Trim());
        string accept;
        using (var sha1 = SHA1.Create())
            accept = Convert.ToBase64String(sha1.ComputeHash(Encoding.ASCII.GetBytes(key + Guid)));
        if (fields["sec-websocket-accept"].FirstOrDefault() != accept)
            throw new Failed("upgrade: Sec-WebSocket-Accept does not match the key");
        deflate = null;
        foreach (var answer in fields["sec-websocket-extensions"])
        {
            var parameters = answer.Split(';').Select(p => p.Trim().Split(new[] { '=' }, 2)).ToList();
            if (!offerDeflate || parameters[0][0] != "permessage-deflate" || deflate != null)
                throw new Failed("upgrade: the server agreed to an extension the runner did not offer: " + answer);
            deflate = new WsxWebSocketDeflateOptions();
            foreach (var p in parameters.Skip(1))
            {
                var bits = p.Length > 1 ? int.Parse(p[1].Trim('"')) : 15;
                switch (p[0])
                {
                    case "server_no_context_takeover": deflate.ServerContextTakeover = false; break;
                    case "client_no_context_takeover": deflate.ClientContextTakeover = false; break;
                    case "server_max_window_bits": deflate.ServerMaxWindowBits = bits; break;
                    case "client_max_window_bits": deflate.ClientMaxWindowBits = bits; break;
                    default: throw new Failed("upgrade: an unknown permessage-deflate parameter: " + answer);
                }
            }
        }
        return fields["sec-websocket-protocol"].FirstOrDefault();
    }
}
