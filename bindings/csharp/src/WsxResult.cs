namespace Wsx
{
    /// <summary>The native library's result codes (<c>wsx_result</c> in <c>wsx.h</c>).</summary>
    public enum WsxResult
    {
        /// <summary>Success.</summary>
        Ok = 0,
        /// <summary>A required pointer argument was NULL (a bug in the binding).</summary>
        Null = 1,
        /// <summary>An argument was invalid: a bad URL, option value, code or kind.</summary>
        InvalidArgument = 2,
        /// <summary>The connection is closing or closed.</summary>
        Closed = 3,
        /// <summary>The send queue is past its high-water mark.</summary>
        WouldBlock = 4,
        /// <summary>The host name could not be resolved.</summary>
        Dns = 5,
        /// <summary>The TCP connection failed (refused, unreachable).</summary>
        Connect = 6,
        /// <summary>A connect, handshake, keepalive, idle or close timeout passed.</summary>
        Timeout = 7,
        /// <summary>The TLS handshake failed or a certificate was refused.</summary>
        Tls = 8,
        /// <summary>The WebSocket handshake was refused or answered wrongly.</summary>
        Handshake = 9,
        /// <summary>The peer broke the WebSocket protocol.</summary>
        Protocol = 10,
        /// <summary>Another I/O error.</summary>
        Io = 11,
        /// <summary>The handle is in the wrong state for this call.</summary>
        State = 12,
        /// <summary>An internal error of the native library.</summary>
        Panic = 13,
        /// <summary>
        /// A proxy failed: unreachable, refused the tunnel, asked for other credentials
        /// (<see cref="WsxException.HttpStatus"/> 407), or could not reach the target (502).
        /// </summary>
        Proxy = 14,
        /// <summary>A reconnecting client is between connections and does not queue sends (or its queue is full).</summary>
        NotConnected = 15,
    }
}
