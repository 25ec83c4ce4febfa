using System;

namespace Wsx
{
    /// <summary>
    /// How one message is sent, like <c>System.Net.WebSockets.WebSocketMessageFlags</c> in .NET 6.
    /// </summary>
    [Flags]
    public enum WsxSendFlags
    {
        /// <summary>The connection's defaults.</summary>
        None = 0,

        /// <summary>
        /// Send this message uncompressed even when permessage-deflate was negotiated: for data
        /// that is compressed already (images, archives), where deflating again only costs time.
        /// </summary>
        DisableCompression = 1,
    }
}
