namespace Wsx
{
    /// <summary>Which timeout ended a connection (<c>wsx_timeout</c>), in <see cref="WsxException.Timeout"/>.</summary>
    public enum WsxTimeout
    {
        /// <summary>No timeout: the failure was something else.</summary>
        None = 0,
        /// <summary>Connecting: name resolution, TCP connect, or the TLS and WebSocket handshakes.</summary>
        Open = 1,
        /// <summary>A keepalive ping was not answered in time.</summary>
        Keepalive = 2,
        /// <summary>Nothing was received for the idle timeout.</summary>
        Idle = 3,
        /// <summary>The peer did not finish the close handshake in time.</summary>
        Close = 4,
    }
}
