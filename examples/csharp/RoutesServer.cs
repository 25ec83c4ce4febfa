// RoutesServer: several WebSocket endpoints and plain HTTP answers on one port, routed by path
// in the Upgrading event, then a graceful drain (the C twin is examples/c/routes_server.c).
//
//   mono RoutesServer.exe [--port P] [--tls-cert FILE --tls-key FILE [--client-ca FILE [--client-crl FILE]]]
//
// WebSocket endpoints, one handler each (chosen by path when each message arrives):
//   /echo     answers every message with the same message
//   /shout    answers every text message in upper case
//   /whoami   sends the subject of the client's TLS certificate (mutual TLS), or "anonymous"
//   /private  needs "Authorization: Bearer letmein", else 401 with WWW-Authenticate; then echoes
// Plain HTTP (WsxServerOptions.AnswerPlainHttp), answered with e.Respond:
//   GET /healthz  200 "ok"         (a load balancer's health check)
//   GET /old      301 to /echo
//   GET /slow     200, answered 100 ms later from another thread (e.Defer + pending.Respond)
//   GET /metrics  200, the server's counters as OpenMetrics text (server.MetricsText(), for
//                 Prometheus; WsxLoop.MetricsText() would add the process's client connections)
//   GET /echo, /shout, /whoami, /private  left alone: the library answers 426 Upgrade Required
//   anything else 404 (handshakes too)
// Prints "listening on PORT". When its standard input ends, it drains: every connection gets
// 1001 "server shutting down", handshakes meanwhile get 503; it prints "drained" and exits.
using System;
using System.Collections.Generic;
using System.Net.WebSockets;
using System.Threading;
using System.Threading.Tasks;
using Wsx;

static class RoutesServer
{
    static readonly Dictionary<string, Func<WsxServerConnection, WsxMessage, Task>> Routes =
        new Dictionary<string, Func<WsxServerConnection, WsxMessage, Task>>
        {
            ["/echo"] = (c, m) => m.MessageType == WebSocketMessageType.Text
                ? c.SendAsync(m.Text, CancellationToken.None)
                : c.SendAsync(new ArraySegment<byte>(m.Data), WebSocketMessageType.Binary, CancellationToken.None),
            ["/shout"] = (c, m) => c.SendAsync(m.Text.ToUpperInvariant(), CancellationToken.None),
            ["/whoami"] = (c, m) => c.SendAsync(c.PeerSubject ?? "anonymous", CancellationToken.None),
            ["/private"] = (c, m) => c.SendAsync(m.Text, CancellationToken.None),
        };

    static string PathOf(string target)
    {
        var q = target.IndexOf('?');
        return q < 0 ? target : target.Substring(0, q);
    }

    static int Main(string[] args)
    {
        var options = new WsxServerOptions { AnswerPlainHttp = true };
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--port": options.Port = int.Parse(args[i + 1]); break;
                case "--tls-cert": options.CertificateFile = args[i + 1]; break;
                case "--tls-key": options.KeyFile = args[i + 1]; break;
                case "--client-ca": options.ClientCaFile = args[i + 1]; break;
                case "--client-crl": options.ClientCrlFile = args[i + 1]; break;
                default: Console.Error.WriteLine("unknown option " + args[i]); return 2;
            }
        }
        using (var server = new WsxServer(options))
        {
            server.Upgrading += (s, e) =>
            {
                var path = PathOf(e.Path);
                if (e.IsPlainHttp && path == "/healthz")
                    e.Respond(200, "ok");
                else if (e.IsPlainHttp && path == "/old")
                    e.Respond(301, new[] { new KeyValuePair<string, string>("Location", "/echo") });
                else if (e.IsPlainHttp && path == "/metrics")
                    e.Respond(200, ((WsxServer)s).MetricsText(),
                        new[] { new KeyValuePair<string, string>("Content-Type", WsxMetrics.ContentType) });
                else if (e.IsPlainHttp && path == "/slow")
                {
                    var pending = e.Defer();
                    Task.Run(async () =>
                    {
                        await Task.Delay(100);
                        using (pending)
                            pending.Respond(200, "slow ok");
                    });
                }
                else if (!Routes.ContainsKey(path))
                    e.Respond(404, "no such route: " + path);
                else if (path == "/private" && !e.IsPlainHttp && !HasBearer(e.Headers))
                {
                    e.AddResponseHeader("WWW-Authenticate", "Bearer realm=\"routes\"");
                    e.Respond(401, "log in first");
                }
                // else accepted: a handshake opens a connection, plain HTTP gets 426.
            };
            // Routing by path: each message goes to the handler of its connection's path.
            server.MessageReceived += (s, e) =>
            {
                var conn = (WsxServerConnection)e.Connection;
                Routes[PathOf(conn.RequestPath)](conn, e.Message).Wait();
            };
            server.Error += (s, e) => Console.Error.WriteLine("error: " + e.Exception.Message);
            server.Start();
            Console.WriteLine("listening on " + server.Port);
            while (Console.ReadLine() != null)
            {
            }
            server.DrainAsync(WebSocketCloseStatus.EndpointUnavailable, "server shutting down", TimeSpan.FromSeconds(5)).Wait();
            Console.WriteLine("drained");
        }
        return 0;
    }

    static bool HasBearer(IReadOnlyDictionary<string, IEnumerable<string>> headers)
    {
        IEnumerable<string> values;
        if (!headers.TryGetValue("Authorization", out values))
            return false;
        foreach (var v in values)
            if (v == "Bearer letmein")
                return true;
        return false;
    }
}
