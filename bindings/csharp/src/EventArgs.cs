using System;
using System.Collections.Generic;
using System.Net.WebSockets;

namespace Wsx
{
    /// <summary>A message arrived on a connection.</summary>
    public sealed class WsxMessageEventArgs : EventArgs
    {
        internal WsxMessageEventArgs(WsxConnection connection, WsxMessage message)
        {
            Connection = connection;
            Message = message;
        }

        /// <summary>The connection it arrived on.</summary>
        public WsxConnection Connection { get; }

        /// <summary>The message (text or binary).</summary>
        public WsxMessage Message { get; }
    }

    /// <summary>A connection is over: its close code and reason.</summary>
    public sealed class WsxClosedEventArgs : EventArgs
    {
        internal WsxClosedEventArgs(WsxConnection connection, WebSocketCloseStatus status, string description, bool clean)
        {
            Connection = connection;
            CloseStatus = status;
            CloseStatusDescription = description;
            Clean = clean;
        }

        /// <summary>The connection that closed.</summary>
        public WsxConnection Connection { get; }

        /// <summary>
        /// The peer's close code, ours if we failed the connection, or 1006 when the transport
        /// dropped without a close handshake.
        /// </summary>
        public WebSocketCloseStatus CloseStatus { get; }

        /// <summary>The reason that went with the code.</summary>
        public string CloseStatusDescription { get; }

        /// <summary>Whether both close frames passed before the transport closed.</summary>
        public bool Clean { get; }
    }

    /// <summary>Something failed: a native error, or an exception thrown by an event handler.</summary>
    public sealed class WsxErrorEventArgs : EventArgs
    {
        internal WsxErrorEventArgs(WsxConnection connection, Exception exception)
        {
            Connection = connection;
            Exception = exception;
        }

        /// <summary>The connection concerned, or null for a server error that belongs to no connection.</summary>
        public WsxConnection Connection { get; }

        /// <summary>What failed: a <see cref="WsxException"/> for native errors.</summary>
        public Exception Exception { get; }
    }

    /// <summary>A client finished its handshake with a <see cref="WsxServer"/>.</summary>
    public sealed class WsxConnectionEventArgs : EventArgs
    {
        internal WsxConnectionEventArgs(WsxConnection connection)
        {
            Connection = connection;
        }

        /// <summary>The new connection; send to it and close it from any thread.</summary>
        public WsxConnection Connection { get; }
    }

    /// <summary>A published message found a subscriber past its high-water mark (see <see cref="WsxSlowSubscriberPolicy"/>).</summary>
    public sealed class WsxSlowSubscriberEventArgs : EventArgs
    {
        internal WsxSlowSubscriberEventArgs(WsxConnection connection, string topic, WsxSlowSubscriberPolicy action)
        {
            Connection = connection;
            Topic = topic;
            Action = action;
        }

        /// <summary>The slow subscriber, or null if it closed before the event was raised.</summary>
        public WsxConnection Connection { get; }

        /// <summary>The topic of the message it missed.</summary>
        public string Topic { get; }

        /// <summary>Whether it was skipped for that message or dropped.</summary>
        public WsxSlowSubscriberPolicy Action { get; }
    }

    /// <summary>A client's connect attempt is about to start.</summary>
    public sealed class WsxConnectingEventArgs : EventArgs
    {
        internal WsxConnectingEventArgs(int attempt, TimeSpan delay)
        {
            Attempt = attempt;
            Delay = delay;
        }

        /// <summary>
        /// 0 for the first connection; then the reconnect attempts in a row (1, 2, ...; back to 1
        /// after a connection that lasted <see cref="WsxReconnectPolicy.ResetAfter"/>).
        /// </summary>
        public int Attempt { get; }

        /// <summary>The wait before the attempt starts (zero for the first).</summary>
        public TimeSpan Delay { get; }
    }

    /// <summary>A client's handshake succeeded: the first time, or again after a reconnect.</summary>
    public sealed class WsxConnectedEventArgs : EventArgs
    {
        internal WsxConnectedEventArgs(bool isReconnect, string subProtocol)
        {
            IsReconnect = isReconnect;
            SubProtocol = subProtocol;
        }

        /// <summary>Whether this open follows an earlier connection of the same client: the time to re-subscribe.</summary>
        public bool IsReconnect { get; }

        /// <summary>The subprotocol this handshake agreed on, or null.</summary>
        public string SubProtocol { get; }
    }

    /// <summary>
    /// A client's connect attempt starts now: its request headers may be set for this attempt
    /// (refresh a token, set cookies). Valid only while the handler runs.
    /// </summary>
    public sealed class WsxBeforeConnectEventArgs : EventArgs
    {
        IntPtr headers;

        internal WsxBeforeConnectEventArgs(IntPtr headers)
        {
            this.headers = headers;
        }

        /// <summary>
        /// Sets a request header of this attempt, replacing the options' header of that name
        /// (compared without case) or adding it.
        /// </summary>
        /// <exception cref="InvalidOperationException">Called after the handler returned.</exception>
        /// <exception cref="WsxException">A name or value the library refuses (a line break, ...).</exception>
        public void SetRequestHeader(string name, string value)
        {
            if (name == null)
                throw new ArgumentNullException(nameof(name));
            if (headers == IntPtr.Zero)
                throw new InvalidOperationException("request headers can be set only while the BeforeConnect handler runs");
            Native.Check(NativeMethods.wsx_attempt_set_header(headers, Native.Utf8(name), Native.Utf8(value ?? "")));
        }

        /// <summary>
        /// Postpones this attempt (<c>wsx_attempt_defer</c>) until <see cref="WsxPendingAttempt.Proceed"/>,
        /// so slow work (fetching a token) does not stall the loop; the connect timeout runs from now.
        /// </summary>
        public WsxPendingAttempt Defer()
        {
            if (headers == IntPtr.Zero)
                throw new InvalidOperationException("an attempt can be deferred only while the BeforeConnect handler runs");
            PendingAttemptHandle pending;
            Native.Check(NativeMethods.wsx_attempt_defer(headers, out pending));
            return new WsxPendingAttempt(pending);
        }

        /// <summary>0 for the first connection, then the number of the reconnect attempt in a row (<c>wsx_attempt_number</c>).</summary>
        public int Attempt
        {
            get
            {
                if (headers == IntPtr.Zero)
                    throw new InvalidOperationException("the attempt can be read only while the BeforeConnect handler runs");
                return checked((int)NativeMethods.wsx_attempt_number(headers));
            }
        }

        /// <summary>Ends the handler's access to the native attempt.</summary>
        internal void Expire()
        {
            headers = IntPtr.Zero;
        }
    }

    /// <summary>
    /// A handshake request a <see cref="WsxServer"/> is deciding on: read it, then refuse it, pick
    /// a subprotocol or add response headers (cookies, ...). Left alone, it is accepted. Valid only
    /// while the handler runs.
    /// </summary>
    public sealed class WsxUpgradeEventArgs : EventArgs
    {
        IntPtr upgrade;

        readonly PeerIdentity peer;

        internal WsxUpgradeEventArgs(IntPtr upgrade, string path, IReadOnlyDictionary<string, IEnumerable<string>> headers,
                                     string origin, string peerAddress, string subProtocol, bool isPlainHttp, PeerIdentity peer)
        {
            this.upgrade = upgrade;
            this.peer = peer;
            Path = path;
            Headers = headers;
            Origin = origin;
            PeerAddress = peerAddress;
            SubProtocol = subProtocol;
            IsPlainHttp = isPlainHttp;
        }

        /// <summary>
        /// A plain HTTP request (no <c>Upgrade: websocket</c>: a load balancer's health check, a
        /// browser), seen only with <see cref="WsxServerOptions.AnswerPlainHttp"/>: answer it with
        /// <see cref="Respond(int, IEnumerable{KeyValuePair{string, string}}, byte[])"/>; left alone
        /// it gets <c>426 Upgrade Required</c>.
        /// </summary>
        public bool IsPlainHttp { get; }

        /// <summary>
        /// Mutual TLS (<see cref="WsxServerOptions.ClientCaFile"/>): the subject of the client's
        /// verified certificate, RFC 4514 text, most specific first (<c>CN=alice,O=Example</c>), to
        /// authorise by identity; null when the client sent none (or without TLS).
        /// </summary>
        public string PeerSubject
        {
            get { return peer.Subject; }
        }

        /// <summary>Mutual TLS: the client's certificate chain as sent, leaf first (empty when none).</summary>
        public IReadOnlyList<System.Security.Cryptography.X509Certificates.X509Certificate2> PeerCertificates
        {
            get { return peer.Certificates; }
        }

        /// <summary>Whether <see cref="Respond(int, IEnumerable{KeyValuePair{string, string}}, byte[])"/> answered the request.</summary>
        public bool Responded { get; private set; }

        /// <summary>
        /// Answers the request with an HTTP response of its own instead of the handshake
        /// (<c>wsx_upgrade_respond</c>): any final status 200-599 (200 for a health check, 302 with
        /// <c>Location</c>, 401 with <c>WWW-Authenticate</c>, a small page), the headers added with
        /// <see cref="AddResponseHeader"/> and then <paramref name="headers"/>, and
        /// <paramref name="body"/> (null: empty). Without a <c>Content-Type</c>,
        /// <c>text/plain; charset=utf-8</c> is sent; the library writes <c>Content-Length</c> and
        /// <c>Connection: close</c> and closes the connection once the response is out. Meant for
        /// plain HTTP requests (<see cref="IsPlainHttp"/>), valid for any.
        /// </summary>
        /// <exception cref="WsxException">A status outside 200-599, a bad header, or one the library writes itself (nothing changes then).</exception>
        public unsafe void Respond(int status, IEnumerable<KeyValuePair<string, string>> headers = null, byte[] body = null)
        {
            var live = Live();
            HttpAnswer.Check(status);
            Native.Check(HttpAnswer.Call(headers, body, (h, n, b, len) => NativeMethods.wsx_upgrade_respond(live, (ushort)status, h, n, b, len)));
            Responded = true;
        }

        /// <summary>Answers with <paramref name="text"/> as a UTF-8 body (see the other overload).</summary>
        public void Respond(int status, string text, IEnumerable<KeyValuePair<string, string>> headers = null)
        {
            Respond(status, headers, text == null ? null : System.Text.Encoding.UTF8.GetBytes(text));
        }

        /// <summary>The request target: path and query.</summary>
        public string Path { get; }

        /// <summary>Every request header by name (case-insensitive), a repeated field's values in order.</summary>
        public IReadOnlyDictionary<string, IEnumerable<string>> Headers { get; }

        /// <summary>The <c>Origin</c> header, or null.</summary>
        public string Origin { get; }

        /// <summary>The peer's address, "ip:port" ("[ip]:port" for IPv6), or <c>"unix:"</c> over a Unix domain socket.</summary>
        public string PeerAddress { get; }

        /// <summary>The subprotocol the server will answer with unless changed (the first of its list the client offered), or null.</summary>
        public string SubProtocol { get; private set; }

        /// <summary>Whether <see cref="Refuse"/> was called.</summary>
        public bool Refused { get; private set; }

        /// <summary>
        /// Refuses the handshake with an HTTP status and a short reason sent as the body (null: none).
        /// A refusal is a status 400-599: the library refuses any other with a <see cref="WsxException"/>
        /// (<see cref="WsxResult.InvalidArgument"/>), and nothing changes.
        /// </summary>
        public void Refuse(int status, string reason)
        {
            if (status < 0 || status > ushort.MaxValue)
                throw new ArgumentOutOfRangeException(nameof(status), status, "an HTTP status fits in 16 bits");
            Native.Check(NativeMethods.wsx_upgrade_refuse(Live(), (ushort)status, Native.Utf8(reason)));
            Refused = true;
        }

        /// <summary>Answers with this subprotocol (null: none) instead of <see cref="SubProtocol"/>.</summary>
        public void SetSubProtocol(string subProtocol)
        {
            Native.Check(NativeMethods.wsx_upgrade_set_subprotocol(Live(), Native.Utf8(subProtocol)));
            SubProtocol = subProtocol;
        }

        /// <summary>Adds a header to the response, the 101 or a refusal (<c>Set-Cookie</c>, <c>WWW-Authenticate</c>, ...).</summary>
        /// <exception cref="WsxException">A name that is not an HTTP token or a value with a control character (the library's rule).</exception>
        public void AddResponseHeader(string name, string value)
        {
            if (name == null)
                throw new ArgumentNullException(nameof(name));
            Native.Check(NativeMethods.wsx_upgrade_add_header(Live(), Native.Utf8(name), Native.Utf8(value ?? "")));
        }

        /// <summary>
        /// Postpones the decision (<c>wsx_upgrade_defer</c>) so it can be taken elsewhere (another
        /// thread, a database) without stalling the loop: decide later on the returned
        /// <see cref="WsxPendingUpgrade"/>. The subprotocol and headers set here before the handler
        /// returns are those <see cref="WsxPendingUpgrade.Accept()"/> answers with.
        /// </summary>
        public WsxPendingUpgrade Defer()
        {
            PendingUpgradeHandle pending;
            Native.Check(NativeMethods.wsx_upgrade_defer(Live(), out pending));
            return new WsxPendingUpgrade(pending);
        }

        IntPtr Live()
        {
            if (upgrade == IntPtr.Zero)
                throw new InvalidOperationException("a handshake can be changed only while the Upgrading handler runs");
            return upgrade;
        }

        /// <summary>Ends the handler's access to the native upgrade.</summary>
        internal void Expire()
        {
            upgrade = IntPtr.Zero;
        }
    }
}
