using System;
using System.Collections.Generic;

namespace Wsx
{
    /// <summary>The native open event (<c>wsx_open</c>), copied out of the callback.</summary>
    internal sealed unsafe class OpenEvent
    {
        OpenEvent(NativeMethods.wsx_open* open)
        {
            SubProtocol = Native.String(open->subprotocol);
            Status = open->status;
            Headers = HeaderDictionary(open->headers, open->headers_len);
            IsReconnect = open->is_reconnect != 0;
            Path = Native.String(open->path);
            PeerAddress = Native.String(open->peer_addr);
        }

        /// <summary>Copies what <paramref name="open"/> lends for the callback only.</summary>
        internal static OpenEvent From(NativeMethods.wsx_open* open)
        {
            return new OpenEvent(open);
        }

        /// <summary>The negotiated subprotocol, or null.</summary>
        internal string SubProtocol { get; }

        /// <summary>Client side: the response status (101). Server side: 0.</summary>
        internal int Status { get; }

        /// <summary>The response headers (client side) or request headers (server side), names case-insensitive.</summary>
        internal IReadOnlyDictionary<string, IEnumerable<string>> Headers { get; }

        /// <summary>Server side: the request target (path and query). Client side: null.</summary>
        internal string Path { get; }

        /// <summary>The peer's address, "ip:port" ("[ip]:port" for IPv6); a client's proxy when it used one.</summary>
        internal string PeerAddress { get; }

        /// <summary>Client side: whether this open follows an earlier attempt of the same connection.</summary>
        internal bool IsReconnect { get; }

        /// <summary>Header fields by name, the values of a repeated field in order.</summary>
        internal static IReadOnlyDictionary<string, IEnumerable<string>> HeaderDictionary(IntPtr headers, UIntPtr count)
        {
            var lists = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            var fields = (NativeMethods.wsx_header*)headers;
            for (ulong i = 0; i < (ulong)count; i++)
            {
                var name = Native.String(fields[i].name);
                List<string> values;
                if (!lists.TryGetValue(name, out values))
                    lists.Add(name, values = new List<string>());
                values.Add(Native.String(fields[i].value));
            }
            var result = new Dictionary<string, IEnumerable<string>>(StringComparer.OrdinalIgnoreCase);
            foreach (var field in lists)
                result.Add(field.Key, field.Value.AsReadOnly());
            return result;
        }
    }
}
