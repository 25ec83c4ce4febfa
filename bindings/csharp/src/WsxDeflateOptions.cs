using System;

namespace Wsx
{
    /// <summary>
    /// permessage-deflate (RFC 7692) settings, for <see cref="WsxClientOptions.Compression"/> (what a
    /// client offers) and <see cref="WsxServerOptions.Compression"/> (what a server accepts). The
    /// defaults are the native library's: 15-bit windows, context takeover on both sides, level 6,
    /// messages under 64 bytes sent as they are. The native library checks the values when the
    /// options are used (a bad one is a <see cref="WsxException"/> with <see cref="WsxResult.InvalidArgument"/>).
    /// </summary>
    public sealed class WsxDeflateOptions
    {
        /// <summary>Largest LZ77 window of the client's compressor, as a power of two (8-15, default 15).</summary>
        public int ClientMaxWindowBits { get; set; } = NativeDefaults.Deflate.client_max_window_bits;

        /// <summary>Largest LZ77 window of the server's compressor, as a power of two (8-15, default 15).</summary>
        public int ServerMaxWindowBits { get; set; } = NativeDefaults.Deflate.server_max_window_bits;

        /// <summary>The client's compressor starts afresh for every message (default false): less memory, larger output.</summary>
        public bool ClientNoContextTakeover { get; set; } = NativeDefaults.Deflate.client_no_context_takeover != 0;

        /// <summary>The server's compressor starts afresh for every message (default false).</summary>
        public bool ServerNoContextTakeover { get; set; } = NativeDefaults.Deflate.server_no_context_takeover != 0;

        /// <summary>Compression level, 0 (stored) to 9 (smallest); default 6.</summary>
        public int Level { get; set; } = (int)NativeDefaults.Deflate.level;

        /// <summary>Messages shorter than this many bytes are sent uncompressed (default 64).</summary>
        public long Threshold { get; set; } = (long)(ulong)NativeDefaults.Deflate.threshold;

        /// <summary>
        /// A server compresses every connection's messages with its loop's one shared compressor
        /// (default false): it asks each client for <c>server_no_context_takeover</c>, so a connection
        /// holds no compressor of its own (250-380 KB saved per sending connection; repetitive traffic
        /// compresses less). A server setting: a client with it fails to connect with
        /// <see cref="WsxResult.InvalidArgument"/>.
        /// </summary>
        public bool SharedCompressor { get; set; } = NativeDefaults.Deflate.shared_compressor != 0;

        /// <summary>The native struct for these settings; values that cannot even be represented throw here.</summary>
        internal NativeMethods.wsx_deflate_options ToNative()
        {
            return new NativeMethods.wsx_deflate_options
            {
                struct_size = (UIntPtr)System.Runtime.InteropServices.Marshal.SizeOf(typeof(NativeMethods.wsx_deflate_options)),
                client_max_window_bits = Bits(ClientMaxWindowBits, "ClientMaxWindowBits"),
                server_max_window_bits = Bits(ServerMaxWindowBits, "ServerMaxWindowBits"),
                client_no_context_takeover = ClientNoContextTakeover ? (byte)1 : (byte)0,
                server_no_context_takeover = ServerNoContextTakeover ? (byte)1 : (byte)0,
                shared_compressor = SharedCompressor ? (byte)1 : (byte)0,
                level = Level >= 0 ? (uint)Level : throw new ArgumentOutOfRangeException("Level", Level, "must not be negative"),
                threshold = Threshold >= 0 && (UIntPtr.Size == 8 || Threshold <= uint.MaxValue)
                    ? (UIntPtr)(ulong)Threshold
                    : throw new ArgumentOutOfRangeException("Threshold", Threshold, "must be zero or positive and addressable"),
            };
        }

        static byte Bits(int bits, string name)
        {
            if (bits < 0 || bits > byte.MaxValue)
                throw new ArgumentOutOfRangeException(name, bits, "must fit in a byte (the library takes 8 to 15)");
            return (byte)bits;
        }
    }
}
