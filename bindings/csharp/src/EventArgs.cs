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
}
