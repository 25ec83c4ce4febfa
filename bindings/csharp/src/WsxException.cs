using System;

namespace Wsx
{
    /// <summary>
    /// A failure reported by the native library: its result code, its message and, for a
    /// handshake the server refused, the HTTP status it answered with.
    /// </summary>
    public class WsxException : Exception
    {
        /// <summary>An exception for a native result code and a message.</summary>
        public WsxException(WsxResult result, string message)
            : this(result, message, null)
        {
        }

        /// <summary>An exception for a native result code, a message and the HTTP status of a refused handshake.</summary>
        public WsxException(WsxResult result, string message, int? httpStatus)
            : base(string.IsNullOrEmpty(message) ? result.ToString() : message)
        {
            Result = result;
            HttpStatus = httpStatus;
        }

        /// <summary>The native result code.</summary>
        public WsxResult Result { get; }

        /// <summary>The HTTP status the server answered a refused handshake with (403, 404, ...), else null.</summary>
        public int? HttpStatus { get; }
    }
}
