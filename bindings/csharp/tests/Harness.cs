using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>Runs named async tests one after the other and counts the outcomes.</summary>
    internal sealed class Runner
    {
        // A guard against hangs only: no test asserts on time.
        static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(120);
        readonly string only;
        int passed;
        int failed;

        /// <summary>A runner of the tests whose name contains <paramref name="only"/> (null: all).</summary>
        internal Runner(string only)
        {
            this.only = only;
        }

        internal void Run(string name, Func<Task> test)
        {
            if (only != null && name.IndexOf(only, StringComparison.OrdinalIgnoreCase) < 0)
                return;
            try
            {
                var task = test();
                if (!task.Wait(HangGuard))
                    throw new Exception("did not finish within " + HangGuard.TotalSeconds + " s (hang)");
                passed++;
                Console.WriteLine("ok   " + name);
            }
            catch (Exception e)
            {
                failed++;
                var inner = e is AggregateException agg && agg.InnerExceptions.Count == 1 ? agg.InnerException : e;
                Console.WriteLine("FAIL " + name + ": " + inner);
            }
        }

        internal int Finish()
        {
            Console.WriteLine(passed + " passed, " + failed + " failed");
            return failed == 0 ? 0 : 1;
        }
    }

    /// <summary>Assertions that throw with what was expected and what was seen.</summary>
    internal static class Assert
    {
        internal static void True(bool condition, string what)
        {
            if (!condition)
                throw new Exception("assertion failed: " + what);
        }

        internal static void Equal<T>(T expected, T actual, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
                throw new Exception(what + ": expected <" + expected + ">, got <" + actual + ">");
        }

        internal static void Bytes(byte[] expected, byte[] actual, string what)
        {
            Equal(expected.Length, actual.Length, what + " (length)");
            for (int i = 0; i < expected.Length; i++)
                if (expected[i] != actual[i])
                    throw new Exception(what + ": first difference at byte " + i);
        }

        /// <summary>Awaits <paramref name="task"/> and returns the exception of type <typeparamref name="T"/> it failed with.</summary>
        internal static async Task<T> ThrowsAsync<T>(Func<Task> action, string what) where T : Exception
        {
            try
            {
                await action().ConfigureAwait(false);
            }
            catch (T e)
            {
                return e;
            }
            catch (System.Net.WebSockets.WebSocketException e) when (typeof(T) == typeof(WsxException) && e.InnerException is WsxException)
            {
                // wsx throws WebSocketException (sealed), its WsxException inside, with the WebSocketError that fits.
                var inner = (WsxException)e.InnerException;
                Equal(WsxException.ErrorOf(inner.Result, inner.HttpStatus), e.WebSocketErrorCode, what + ": its WebSocketError");
                return (T)(Exception)inner;
            }
            catch (Exception e)
            {
                throw new Exception(what + ": expected " + typeof(T).Name + ", got " + e.GetType().Name + ": " + e.Message, e);
            }
            throw new Exception(what + ": expected " + typeof(T).Name + ", nothing was thrown");
        }

        /// <summary>Runs <paramref name="action"/> and returns the exception of type <typeparamref name="T"/> it threw.</summary>
        internal static T Throws<T>(Action action, string what) where T : Exception
        {
            return ThrowsAsync<T>(() => { action(); return Task.CompletedTask; }, what).GetAwaiter().GetResult();
        }
    }

    /// <summary>
    /// A peer server in a child process that prints its port on its first line of output;
    /// stopped by its own pid.
    /// </summary>
    internal sealed class Peer : IDisposable
    {
        readonly Process process;

        internal Peer(string name, string file, string arguments)
        {
            Name = name;
            var info = new ProcessStartInfo(file, arguments)
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardInput = true,
            };
            process = Process.Start(info);
            try
            {
                Port = ParsePort(process.StandardOutput.ReadLine());
            }
            catch
            {
                Dispose();
                throw;
            }
            // Keep draining its output, so that it never blocks on a full pipe.
            var output = process.StandardOutput;
            new Thread(() => { while (output.ReadLine() != null) { } }) { IsBackground = true }.Start();
        }

        internal string Name { get; }

        internal int Port { get; }

        internal Uri Url(string path = "/")
        {
            return new Uri("ws://127.0.0.1:" + Port + path);
        }

        /// <summary>The last number on the line ("PORT 1234", "listening on 127.0.0.1:1234").</summary>
        static int ParsePort(string line)
        {
            if (line == null)
                throw new Exception("the peer exited before printing its port");
            int end = line.Length;
            while (end > 0 && !char.IsDigit(line[end - 1]))
                end--;
            int start = end;
            while (start > 0 && char.IsDigit(line[start - 1]))
                start--;
            int port;
            if (start == end || !int.TryParse(line.Substring(start, end - start), out port))
                throw new Exception("no port in the peer's first line: " + line);
            return port;
        }

        /// <summary>Stops it with SIGTERM (a graceful shutdown) and returns its exit status; fails after 20 s.</summary>
        internal int Terminate()
        {
            using (var kill = Process.Start(new ProcessStartInfo("kill", "-TERM " + process.Id) { UseShellExecute = false }))
                kill.WaitForExit();
            if (!process.WaitForExit(20000))
                throw new Exception(Name + " did not exit within 20 s of SIGTERM");
            return process.ExitCode;
        }

        public void Dispose()
        {
            try
            {
                if (!process.HasExited)
                    process.Kill();
                process.WaitForExit();
            }
            catch (InvalidOperationException)
            {
                // It exited in the meantime.
            }
            process.Dispose();
        }
    }

    /// <summary>A CA and a server certificate for the name localhost (only) it signed, made with openssl in a temporary directory.</summary>
    internal sealed class TestCertificates : IDisposable
    {
        readonly string dir = Path.Combine(Path.GetTempPath(), "wsx-cs-tls-" + Guid.NewGuid().ToString("N"));

        internal TestCertificates()
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "leaf.cnf"),
                "[leaf]\nbasicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\n" +
                "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n");
            const string key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
            OpenSsl("req -x509 " + key + " -keyout ca.key -out ca.pem -days 2 -subj /CN=wsx-test-CA");
            OpenSsl("req " + key + " -keyout server.key -out server.csr -subj /CN=localhost");
            OpenSsl("x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile leaf.cnf -extensions leaf");
        }

        /// <summary>
        /// For mutual TLS: a client CA (client-ca.pem), alice's and bob's certificates it signed
        /// (subject <c>O=wsx, CN=name</c>: alice.pem/.key, bob.pem/.key) and a CRL revoking bob's (crl.pem).
        /// </summary>
        internal void MakeClientCertificates()
        {
            const string key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
            File.WriteAllText(Path.Combine(dir, "client.cnf"),
                "[client]\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n" +
                "[ca]\ndefault_ca = client_ca\n[client_ca]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 2\n");
            OpenSsl("req -x509 " + key + " -keyout client-ca.key -out client-ca.pem -days 2 -subj /CN=wsx-client-CA" +
                    " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
            foreach (var who in new[] { "alice", "bob" })
            {
                OpenSsl("req " + key + " -keyout " + who + ".key -out " + who + ".csr -subj /O=wsx/CN=" + who);
                OpenSsl("x509 -req -in " + who + ".csr -CA client-ca.pem -CAkey client-ca.key -CAcreateserial -out " + who +
                        ".pem -days 2 -extfile client.cnf -extensions client");
            }
            File.WriteAllText(Path.Combine(dir, "index.txt"), "");
            File.WriteAllText(Path.Combine(dir, "crlnumber"), "01\n");
            OpenSsl("ca -config client.cnf -keyfile client-ca.key -cert client-ca.pem -revoke bob.pem");
            OpenSsl("ca -config client.cnf -keyfile client-ca.key -cert client-ca.pem -gencrl -out crl.pem");
        }

        /// <summary>A file of this directory (after <see cref="MakeClientCertificates"/>: client-ca.pem, alice.pem, ...).</summary>
        internal string FileNamed(string name) { return Path.Combine(dir, name); }

        internal string CaFile { get { return Path.Combine(dir, "ca.pem"); } }

        internal string CertificateFile { get { return Path.Combine(dir, "server.pem"); } }

        internal string KeyFile { get { return Path.Combine(dir, "server.key"); } }

        void OpenSsl(string arguments)
        {
            var info = new ProcessStartInfo("openssl", arguments)
            {
                UseShellExecute = false,
                WorkingDirectory = dir,
                RedirectStandardError = true,
            };
            using (var process = Process.Start(info))
            {
                var errors = process.StandardError.ReadToEnd();
                process.WaitForExit();
                if (process.ExitCode != 0)
                    throw new Exception("openssl " + arguments + " failed: " + errors);
            }
        }

        public void Dispose()
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>
    /// A TCP relay on 127.0.0.1 that counts the bytes it passes each way. Counts are taken as
    /// bytes are read, so once a reply has arrived, everything that caused it is counted.
    /// Subclasses decide where each accepted connection goes.
    /// </summary>
    internal abstract class TcpRelay : IDisposable
    {
        readonly TcpListener listener = new TcpListener(IPAddress.Loopback, 0);
        readonly List<TcpClient> sockets = new List<TcpClient>();
        long upstream;
        long downstream;

        protected TcpRelay()
        {
            listener.Start();
            Port = ((IPEndPoint)listener.LocalEndpoint).Port;
            Task.Run(AcceptLoop);
        }

        internal int Port { get; }

        /// <summary>Bytes from clients to servers so far.</summary>
        internal long Upstream { get { return Interlocked.Read(ref upstream); } }

        /// <summary>Bytes from servers to clients so far.</summary>
        internal long Downstream { get { return Interlocked.Read(ref downstream); } }

        /// <summary>The server for <paramref name="client"/>, connected; or null after answering the client itself.</summary>
        protected abstract Task<TcpClient> OpenUpstream(TcpClient client);

        async Task AcceptLoop()
        {
            while (true)
            {
                TcpClient client;
                try
                {
                    client = await listener.AcceptTcpClientAsync().ConfigureAwait(false);
                }
                catch (Exception)
                {
                    return; // stopped
                }
                lock (sockets)
                    sockets.Add(client);
                _ = Serve(client);
            }
        }

        async Task Serve(TcpClient client)
        {
            TcpClient server;
            try
            {
                server = await OpenUpstream(client).ConfigureAwait(false);
            }
            catch (Exception)
            {
                server = null;
            }
            if (server == null)
            {
                client.Close();
                return;
            }
            lock (sockets)
                sockets.Add(server);
            _ = Pump(client, server, true);
            _ = Pump(server, client, false);
        }

        async Task Pump(TcpClient from, TcpClient to, bool up)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                var input = from.GetStream();
                var output = to.GetStream();
                int n;
                while ((n = await input.ReadAsync(buffer, 0, buffer.Length).ConfigureAwait(false)) > 0)
                {
                    if (up)
                        Interlocked.Add(ref upstream, n);
                    else
                        Interlocked.Add(ref downstream, n);
                    await output.WriteAsync(buffer, 0, n).ConfigureAwait(false);
                }
                to.Client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception)
            {
                // One side went away: drop both.
                from.Close();
                to.Close();
            }
        }

        public void Dispose()
        {
            listener.Stop();
            lock (sockets)
            {
                foreach (var socket in sockets)
                    socket.Close();
            }
        }
    }

    /// <summary>A <see cref="TcpRelay"/> in front of one server, to see on the wire whether messages went compressed.</summary>
    internal sealed class CountingRelay : TcpRelay
    {
        readonly int targetPort;

        internal CountingRelay(int targetPort)
        {
            this.targetPort = targetPort;
        }

        internal Uri Url(string path = "/")
        {
            return new Uri("ws://127.0.0.1:" + Port + path);
        }

        protected override async Task<TcpClient> OpenUpstream(TcpClient client)
        {
            var server = new TcpClient();
            await server.ConnectAsync(IPAddress.Loopback, targetPort).ConfigureAwait(false);
            return server;
        }
    }

    /// <summary>
    /// An HTTP CONNECT proxy for tests (RFC 9110, section 9.3.6), to 127.0.0.1 only: with
    /// credentials it answers 407 to a request without the right Basic <c>Proxy-Authorization</c>,
    /// 502 when the target refuses, and 200 before relaying bytes both ways.
    /// </summary>
    internal sealed class ConnectProxy : TcpRelay
    {
        readonly string credentials;
        readonly System.Collections.Concurrent.ConcurrentQueue<string> targets = new System.Collections.Concurrent.ConcurrentQueue<string>();

        /// <summary>A proxy asking for <paramref name="user"/> and <paramref name="password"/> (null: none).</summary>
        internal ConnectProxy(string user = null, string password = null)
        {
            if (user != null)
                credentials = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(user + ":" + password));
        }

        /// <summary>The URL to give a client, with <paramref name="userInfo"/> ("user:password") if not null.</summary>
        internal Uri Url(string userInfo = null)
        {
            return new Uri("http://" + (userInfo != null ? userInfo + "@" : "") + "127.0.0.1:" + Port);
        }

        /// <summary>The targets of the tunnels opened so far ("host:port"), in order.</summary>
        internal string[] Tunnels { get { return targets.ToArray(); } }

        protected override async Task<TcpClient> OpenUpstream(TcpClient client)
        {
            var stream = client.GetStream();
            var head = await ReadHead(stream).ConfigureAwait(false);
            var lines = head.Split(new[] { "\r\n" }, StringSplitOptions.None);
            var request = lines[0].Split(' ');
            if (request.Length != 3 || request[0] != "CONNECT")
            {
                await Answer(stream, "405 Method Not Allowed").ConfigureAwait(false);
                return null;
            }
            if (credentials != null && !lines.Any(l => l.Equals("Proxy-Authorization: Basic " + credentials, StringComparison.OrdinalIgnoreCase)))
            {
                await Answer(stream, "407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"wsx tests\"").ConfigureAwait(false);
                return null;
            }
            var hostPort = request[1];
            int colon = hostPort.LastIndexOf(':');
            var host = hostPort.Substring(0, colon);
            if (host != "127.0.0.1" && host != "localhost")
            {
                await Answer(stream, "403 Forbidden").ConfigureAwait(false);
                return null;
            }
            var server = new TcpClient();
            try
            {
                await server.ConnectAsync(IPAddress.Loopback, int.Parse(hostPort.Substring(colon + 1))).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                server.Close();
                await Answer(stream, "502 Bad Gateway").ConfigureAwait(false);
                return null;
            }
            targets.Enqueue(hostPort);
            await Answer(stream, "200 Connection Established").ConfigureAwait(false);
            return server;
        }

        static Task Answer(NetworkStream stream, string statusAndHeaders)
        {
            var bytes = System.Text.Encoding.ASCII.GetBytes("HTTP/1.1 " + statusAndHeaders + "\r\nContent-Length: 0\r\n\r\n");
            return stream.WriteAsync(bytes, 0, bytes.Length);
        }

        /// <summary>The request head up to its empty line, read a byte at a time so that nothing after it is consumed.</summary>
        static async Task<string> ReadHead(NetworkStream stream)
        {
            var head = new System.Text.StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                if (await stream.ReadAsync(one, 0, 1).ConfigureAwait(false) == 0 || head.Length > 8192)
                    throw new IOException("no complete request head");
                head.Append((char)one[0]);
            }
            return head.ToString(0, head.Length - 4);
        }
    }

    /// <summary>
    /// A SOCKS5 proxy for tests (RFC 1928), CONNECT to 127.0.0.1 or localhost only, with
    /// username/password authentication (RFC 1929) when given credentials.
    /// </summary>
    internal sealed class Socks5Proxy : TcpRelay
    {
        readonly string user;
        readonly string password;
        readonly System.Collections.Concurrent.ConcurrentQueue<string> targets = new System.Collections.Concurrent.ConcurrentQueue<string>();

        /// <summary>A proxy asking for <paramref name="user"/> and <paramref name="password"/> (null: no authentication).</summary>
        internal Socks5Proxy(string user = null, string password = null)
        {
            this.user = user;
            this.password = password;
        }

        /// <summary>A <c>socks5h://</c> URL (the proxy resolves names), with <paramref name="userInfo"/> if not null.</summary>
        internal Uri Url(string userInfo = null)
        {
            return new Uri("socks5h://" + (userInfo != null ? userInfo + "@" : "") + "127.0.0.1:" + Port);
        }

        /// <summary>The targets of the tunnels opened so far ("host:port"), in order.</summary>
        internal string[] Tunnels { get { return targets.ToArray(); } }

        protected override async Task<TcpClient> OpenUpstream(TcpClient client)
        {
            var stream = client.GetStream();
            var greeting = await ReadExactly(stream, 2).ConfigureAwait(false);
            var methods = await ReadExactly(stream, greeting[1]).ConfigureAwait(false);
            byte wanted = user != null ? (byte)2 : (byte)0;
            if (greeting[0] != 5 || Array.IndexOf(methods, wanted) < 0)
            {
                await stream.WriteAsync(new byte[] { 5, 0xff }, 0, 2).ConfigureAwait(false);
                return null;
            }
            await stream.WriteAsync(new byte[] { 5, wanted }, 0, 2).ConfigureAwait(false);
            if (user != null)
            {
                var version = await ReadExactly(stream, 2).ConfigureAwait(false);
                var name = System.Text.Encoding.UTF8.GetString(await ReadExactly(stream, version[1]).ConfigureAwait(false));
                var length = await ReadExactly(stream, 1).ConfigureAwait(false);
                var secret = System.Text.Encoding.UTF8.GetString(await ReadExactly(stream, length[0]).ConfigureAwait(false));
                var ok = name == user && secret == password;
                await stream.WriteAsync(new byte[] { 1, ok ? (byte)0 : (byte)1 }, 0, 2).ConfigureAwait(false);
                if (!ok)
                    return null;
            }
            var request = await ReadExactly(stream, 4).ConfigureAwait(false);
            string host;
            switch (request[3])
            {
                case 1:
                    host = new IPAddress(await ReadExactly(stream, 4).ConfigureAwait(false)).ToString();
                    break;
                case 3:
                    var size = await ReadExactly(stream, 1).ConfigureAwait(false);
                    host = System.Text.Encoding.ASCII.GetString(await ReadExactly(stream, size[0]).ConfigureAwait(false));
                    break;
                default:
                    await Reply(stream, 8).ConfigureAwait(false); // address type not supported
                    return null;
            }
            var portBytes = await ReadExactly(stream, 2).ConfigureAwait(false);
            int port = portBytes[0] << 8 | portBytes[1];
            if (request[1] != 1 || (host != "127.0.0.1" && host != "localhost"))
            {
                await Reply(stream, 2).ConfigureAwait(false); // not allowed by the ruleset
                return null;
            }
            var server = new TcpClient();
            try
            {
                await server.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
            }
            catch (SocketException)
            {
                server.Close();
                await Reply(stream, 5).ConfigureAwait(false); // connection refused
                return null;
            }
            targets.Enqueue(host + ":" + port);
            await Reply(stream, 0).ConfigureAwait(false);
            return server;
        }

        static Task Reply(NetworkStream stream, byte code)
        {
            var reply = new byte[] { 5, code, 0, 1, 127, 0, 0, 1, 0, 0 };
            return stream.WriteAsync(reply, 0, reply.Length);
        }

        static async Task<byte[]> ReadExactly(NetworkStream stream, int count)
        {
            var bytes = new byte[count];
            for (int done = 0; done < count;)
            {
                int n = await stream.ReadAsync(bytes, done, count - done).ConfigureAwait(false);
                if (n == 0)
                    throw new IOException("the client went away mid-request");
                done += n;
            }
            return bytes;
        }
    }

    /// <summary>
    /// A WebSocket client that does the opening handshake by hand and then never reads, so that
    /// the server's send queue to it only grows: a stalled subscriber.
    /// </summary>
    internal sealed class StalledClient : IDisposable
    {
        readonly TcpClient socket = new TcpClient();

        internal StalledClient(int port)
        {
            socket.ReceiveBufferSize = 4096;
            socket.Connect(IPAddress.Loopback, port);
            var stream = socket.GetStream();
            var request = System.Text.Encoding.ASCII.GetBytes(
                "GET / HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
            stream.Write(request, 0, request.Length);
            // Read the response a byte at a time, so that nothing past its end is consumed.
            var response = new System.Text.StringBuilder();
            while (!response.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                int b = stream.ReadByte();
                if (b < 0)
                    throw new Exception("the server closed during the handshake: " + response);
                response.Append((char)b);
            }
            if (!response.ToString().StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
                throw new Exception("handshake refused: " + response);
        }

        public void Dispose()
        {
            socket.Close();
        }
    }

    internal static class Ports
    {
        /// <summary>A port on 127.0.0.1 where nothing listens (bound, read, released).</summary>
        internal static int Unused()
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            return port;
        }
    }

    /// <summary>A SynchronizationContext that runs posted work, in order, on one thread of its own.</summary>
    internal sealed class SingleThreadContext : SynchronizationContext, IDisposable
    {
        readonly System.Collections.Concurrent.BlockingCollection<KeyValuePair<SendOrPostCallback, object>> queue =
            new System.Collections.Concurrent.BlockingCollection<KeyValuePair<SendOrPostCallback, object>>();
        readonly Thread thread;

        internal SingleThreadContext()
        {
            thread = new Thread(Pump) { IsBackground = true, Name = "test context" };
            thread.Start();
        }

        internal Thread Thread { get { return thread; } }

        public override void Post(SendOrPostCallback d, object state)
        {
            queue.Add(new KeyValuePair<SendOrPostCallback, object>(d, state));
        }

        public override void Send(SendOrPostCallback d, object state)
        {
            throw new NotSupportedException();
        }

        void Pump()
        {
            SetSynchronizationContext(this);
            foreach (var item in queue.GetConsumingEnumerable())
                item.Key(item.Value);
        }

        public void Dispose()
        {
            queue.CompleteAdding();
            thread.Join();
        }
    }
}
