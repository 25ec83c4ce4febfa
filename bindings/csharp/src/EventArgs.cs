using System;
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
            if (string.IsNullOrEmpty(name))
                throw new ArgumentException("a header name must not be empty", nameof(name));
            if (headers == IntPtr.Zero)
                throw new InvalidOperationException("request headers can be set only while the BeforeConnect handler runs");
            Native.Check(NativeMethods.wsx_request_headers_set(headers, Native.Utf8(name), Native.Utf8(value ?? "")));
        }

        /// <summary>Ends the handler's access to the native headers.</summary>
        internal void Expire()
        {
            headers = IntPtr.Zero;
        }
    }
}
