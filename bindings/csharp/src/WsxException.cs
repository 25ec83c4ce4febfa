using System;
using System.Collections.Generic;
using System.Net.WebSockets;

namespace Wsx
{
    /// <summary>
    /// A failure the native library reported: <see cref="Result"/> names its kind, the message is
    /// the library's own text.
    /// <para>
    /// wsx throws every failure as a <see cref="WebSocketException"/> (with the
    /// <see cref="WebSocketError"/> that <c>ClientWebSocket</c> uses for the same failure), so <c>catch (WebSocketException)</c>
    /// blocks written for <c>ClientWebSocket</c> keep working; this exception is its
    /// <see cref="Exception.InnerException"/>, with the detail (<see cref="HttpStatus"/>).
    /// WebSocketException is sealed (in netstandard2.0, .NET Framework, Mono and .NET), so no
    /// class can derive from it: see <see cref="Of(Exception)"/>.
    /// </para>
    /// </summary>
    public sealed class WsxException : Exception
    {
        /// <summary>A failure of kind <paramref name="result"/> with the library's message.</summary>
        public WsxException(WsxResult result, string message)
            : this(result, message, null)
        {
        }

        /// <summary>A failure with the HTTP status of a refused handshake (null for none).</summary>
        public WsxException(WsxResult result, string message, int? httpStatus)
            : this(result, message, httpStatus, null)
        {
        }

        /// <summary>A failure with the HTTP status of a refused handshake and the exception behind it.</summary>
        public WsxException(WsxResult result, string message, int? httpStatus, Exception innerException)
            : base(string.IsNullOrEmpty(message) ? result.ToString() : message, innerException)
        {
            Result = result;
            HttpStatus = httpStatus;
        }

        /// <summary>A failure with everything the library's error event told (<c>wsx_error</c>).</summary>
        internal WsxException(WsxResult result, string message, int? httpStatus, WsxTimeout timeout, int osError,
            IReadOnlyDictionary<string, IEnumerable<string>> headers, byte[] body)
            : this(result, message, httpStatus, null)
        {
            Timeout = timeout;
            OsError = osError == 0 ? (int?)null : osError;
            HttpResponseHeaders = headers;
            HttpResponseBody = body;
        }

        /// <summary>Which timeout passed (<see cref="WsxTimeout.None"/> when the failure was no timeout).</summary>
        public WsxTimeout Timeout { get; }

        /// <summary>The operating system's error number behind the failure (errno, e.g. 111 for ECONNREFUSED on Linux), else null.</summary>
        public int? OsError { get; }

        /// <summary>
        /// The headers of a refused handshake's response (names case-insensitive, a repeated field's
        /// values in order), else null.
        /// </summary>
        public IReadOnlyDictionary<string, IEnumerable<string>> HttpResponseHeaders { get; }

        /// <summary>The body of a refused handshake's response (possibly empty), else null.</summary>
        public byte[] HttpResponseBody { get; }

        /// <summary>What went wrong, as the library's result code.</summary>
        public WsxResult Result { get; }

        /// <summary>The HTTP status of a refused handshake (401, 403, 404, ...), else null.</summary>
        public int? HttpStatus { get; }

        /// <summary>This failure as the <see cref="WebSocketException"/> wsx throws (this one inside).</summary>
        public WebSocketException ToWebSocketException()
        {
            return new WebSocketException(ErrorOf(Result, HttpStatus), Message, this);
        }

        /// <summary>A failure of kind <paramref name="result"/>, as wsx throws it.</summary>
        internal static WebSocketException Create(WsxResult result, string message, int? httpStatus = null)
        {
            return new WsxException(result, message, httpStatus).ToWebSocketException();
        }

        /// <summary>
        /// The wsx detail of an exception wsx threw (a <see cref="WebSocketException"/> or an
        /// <see cref="AggregateException"/> around one), or null: <c>WsxException.Of(e)?.HttpStatus</c>.
        /// </summary>
        public static WsxException Of(Exception exception)
        {
            var aggregate = exception as AggregateException;
            if (aggregate != null && aggregate.InnerExceptions.Count == 1)
                exception = aggregate.InnerException;
            return exception as WsxException ?? (exception == null ? null : exception.InnerException as WsxException);
        }

        /// <summary>The <see cref="WebSocketError"/> that fits a result code.</summary>
        public static WebSocketError ErrorOf(WsxResult result, int? httpStatus)
        {
            switch (result)
            {
                case WsxResult.Ok:
                    return WebSocketError.Success;
                case WsxResult.Closed:
                case WsxResult.State:
                case WsxResult.NotConnected:
                    return WebSocketError.InvalidState;
                case WsxResult.Handshake:
                    // A server that answered, but not with 101: what ClientWebSocket reports as "not a WebSocket".
                    return httpStatus.HasValue ? WebSocketError.NotAWebSocket : WebSocketError.HeaderError;
                case WsxResult.Io:
                    return WebSocketError.ConnectionClosedPrematurely;
                case WsxResult.Dns:
                case WsxResult.Connect:
                case WsxResult.Timeout:
                case WsxResult.Tls:
                case WsxResult.Proxy:
                case WsxResult.Protocol:
                    return WebSocketError.Faulted;
                default:
                    // Null, InvalidArgument, WouldBlock, Panic: the library refused the call itself.
                    return WebSocketError.NativeError;
            }
        }
    }
}
