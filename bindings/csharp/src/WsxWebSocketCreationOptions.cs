using System;
using System.Threading;

namespace Wsx
{
    /// <summary>
    /// How <see cref="WsxWebSocket.CreateFromStream(System.IO.Stream, WsxWebSocketCreationOptions)"/>
    /// sets up a WebSocket over a stream whose opening handshake happened elsewhere: the shape of
    /// .NET's <c>WebSocketCreationOptions</c> (IsServer, SubProtocol, KeepAliveInterval,
    /// KeepAliveTimeout, DangerousDeflateOptions), plus the library's limits and close timeout.
    /// Defaults come from the native library (<c>wsx_defaults_get</c>).
    /// </summary>
    public sealed class WsxWebSocketCreationOptions
    {
        /// <summary>The server side of the connection (its frames are not masked, the peer's must be).</summary>
        public bool IsServer { get; set; }

        /// <summary>The subprotocol the handshake agreed on, or null; reported by <c>SubProtocol</c>.</summary>
        public string SubProtocol { get; set; }

        /// <summary>
        /// Time between keepalive pings (default 30 s); <see cref="TimeSpan.Zero"/> or
        /// <see cref="Timeout.InfiniteTimeSpan"/> turns keepalive off. Unlike .NET before 9 (which
        /// sends unsolicited pongs), wsx pings and expects a pong within <see cref="KeepAliveTimeout"/>.
        /// </summary>
        public TimeSpan KeepAliveInterval { get; set; } = NativeDefaults.Ms(NativeDefaults.Options.keepalive_interval_ms);

        /// <summary>Time to wait for the pong of a keepalive ping before dropping the connection (default 30 s).</summary>
        public TimeSpan KeepAliveTimeout { get; set; } = NativeDefaults.Ms(NativeDefaults.Options.keepalive_timeout_ms);

        /// <summary>Time to wait for the peer's close frame, then for the end of the stream, after ours (default 5 s).</summary>
        public TimeSpan CloseTimeout { get; set; } = NativeDefaults.Ms(NativeDefaults.Options.close_timeout_ms);

        /// <summary>Largest message accepted, in bytes (default 16 MiB); a bigger one closes the connection with 1009.</summary>
        public long MaxMessageSize { get; set; } = (long)(ulong)NativeDefaults.Options.max_message_size;

        /// <summary>Largest single frame accepted, in bytes (default 16 MiB); a bigger one closes the connection with 1009.</summary>
        public long MaxFrameSize { get; set; } = (long)(ulong)NativeDefaults.Options.max_frame_size;

        /// <summary>
        /// The permessage-deflate parameters the handshake agreed (RFC 7692), or null (the default)
        /// for none, as .NET's <c>DangerousDeflateOptions</c>.
        /// </summary>
        public WsxWebSocketDeflateOptions DangerousDeflateOptions { get; set; }
    }

    /// <summary>
    /// The permessage-deflate parameters a handshake agreed, as .NET's <c>WebSocketDeflateOptions</c>
    /// (a <c>*ContextTakeover</c> of false is RFC 7692's <c>*_no_context_takeover</c>).
    /// </summary>
    public sealed class WsxWebSocketDeflateOptions
    {
        /// <summary>The client compressor's window, as a power of two, 8-15 (default 15).</summary>
        public int ClientMaxWindowBits { get; set; } = 15;

        /// <summary>Whether the client's compressor keeps its context between messages (default true).</summary>
        public bool ClientContextTakeover { get; set; } = true;

        /// <summary>The server compressor's window, as a power of two, 8-15 (default 15).</summary>
        public int ServerMaxWindowBits { get; set; } = 15;

        /// <summary>Whether the server's compressor keeps its context between messages (default true).</summary>
        public bool ServerContextTakeover { get; set; } = true;

        internal NativeEngine.wsx_deflate_params ToNative()
        {
            return new NativeEngine.wsx_deflate_params
            {
                struct_size = (UIntPtr)System.Runtime.InteropServices.Marshal.SizeOf(typeof(NativeEngine.wsx_deflate_params)),
                client_max_window_bits = Bits(ClientMaxWindowBits, "ClientMaxWindowBits"),
                server_max_window_bits = Bits(ServerMaxWindowBits, "ServerMaxWindowBits"),
                client_no_context_takeover = ClientContextTakeover ? (byte)0 : (byte)1,
                server_no_context_takeover = ServerContextTakeover ? (byte)0 : (byte)1,
            };
        }

        static byte Bits(int bits, string name)
        {
            // The library checks 8-15 (WSX_ERR_INVALID_ARGUMENT); here only what a byte cannot hold.
            if (bits < 0 || bits > byte.MaxValue)
                throw new ArgumentOutOfRangeException(name, bits, "a window is 8 to 15 bits");
            return (byte)bits;
        }
    }
}
