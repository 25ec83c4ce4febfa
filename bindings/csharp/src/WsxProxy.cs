using System;
using System.Net;

namespace Wsx
{
    /// <summary>
    /// An <see cref="IWebProxy"/> for <see cref="WsxClientOptions.Proxy"/> that sends every
    /// connection through one proxy URL: <c>http://[user:password@]host[:port]</c>,
    /// <c>https://...</c>, <c>socks5://...</c> or <c>socks5h://...</c>. Unlike
    /// <see cref="WebProxy"/> on .NET Framework and Mono, it does not bypass loopback targets.
    /// </summary>
    public sealed class WsxProxy : IWebProxy
    {
        /// <summary>A proxy at <paramref name="address"/> (credentials may be in its user info).</summary>
        public WsxProxy(Uri address)
        {
            Address = address ?? throw new ArgumentNullException(nameof(address));
        }

        /// <summary>The proxy's URL.</summary>
        public Uri Address { get; }

        /// <summary>Credentials for the proxy (Basic, or SOCKS5 user/password); null for none or those in <see cref="Address"/>.</summary>
        public ICredentials Credentials { get; set; }

        /// <summary>Always <see cref="Address"/>.</summary>
        public Uri GetProxy(Uri destination)
        {
            return Address;
        }

        /// <summary>Never: every target goes through the proxy.</summary>
        public bool IsBypassed(Uri host)
        {
            return false;
        }
    }
}
