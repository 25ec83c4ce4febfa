using System.Net.WebSockets;
using System.Text;

namespace Wsx
{
    /// <summary>
    /// One whole message received on a connection, or, with <see cref="WebSocketMessageType.Close"/>,
    /// the end of the connection.
    /// </summary>
    public sealed class WsxMessage
    {
        internal static readonly byte[] Empty = new byte[0];
        string text;

        internal WsxMessage(WebSocketMessageType type, byte[] data)
        {
            MessageType = type;
            Data = data;
        }

        internal WsxMessage(WebSocketCloseStatus status, string description)
        {
            MessageType = WebSocketMessageType.Close;
            Data = Empty;
            CloseStatus = status;
            CloseStatusDescription = description;
        }

        /// <summary>Text, binary, or close (the connection is over).</summary>
        public WebSocketMessageType MessageType { get; }

        /// <summary>The payload (owned by this message; empty for a close).</summary>
        public byte[] Data { get; }

        /// <summary>The payload decoded as UTF-8 (the protocol guarantees it is valid for a text message).</summary>
        public string Text
        {
            get { return text ?? (text = Encoding.UTF8.GetString(Data)); }
        }

        /// <summary>For a close: the close code the connection ended with; otherwise null.</summary>
        public WebSocketCloseStatus? CloseStatus { get; }

        /// <summary>For a close: the reason that came with the code; otherwise null.</summary>
        public string CloseStatusDescription { get; }

        /// <summary>The type and size, and the text of a short text message.</summary>
        public override string ToString()
        {
            if (MessageType == WebSocketMessageType.Close)
                return "Close " + (int?)CloseStatus + " " + CloseStatusDescription;
            if (MessageType == WebSocketMessageType.Text && Data.Length <= 64)
                return "Text \"" + Text + "\"";
            return MessageType + " (" + Data.Length + " bytes)";
        }
    }
}
