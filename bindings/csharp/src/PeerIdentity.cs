using System;
using System.Collections.Generic;
using System.Security.Cryptography.X509Certificates;

namespace Wsx
{
    /// <summary>
    /// A client's certificate as mutual TLS verified it (<c>wsx_request.peer_subject</c> /
    /// <c>peer_certs</c>, <c>wsx_conn_peer_identity</c>), copied out of the library: the subject
    /// text, and the chain as DER turned into <see cref="X509Certificate2"/> on first use.
    /// </summary>
    internal sealed class PeerIdentity
    {
        internal static readonly PeerIdentity None = new PeerIdentity(null, new byte[0][]);

        readonly byte[][] der;
        readonly Lazy<IReadOnlyList<X509Certificate2>> certificates;

        PeerIdentity(string subject, byte[][] der)
        {
            Subject = subject;
            this.der = der;
            certificates = new Lazy<IReadOnlyList<X509Certificate2>>(() =>
            {
                var list = new List<X509Certificate2>(this.der.Length);
                foreach (var bytes in this.der)
                    list.Add(new X509Certificate2(bytes));
                return list.AsReadOnly();
            });
        }

        /// <summary>Copies what the library lends (for the callback, or while the connection lives).</summary>
        internal static unsafe PeerIdentity Copy(IntPtr subject, NativeMethods.wsx_cert* certs, UIntPtr count)
        {
            if (subject == IntPtr.Zero && (certs == null || count == UIntPtr.Zero))
                return None;
            var der = new byte[certs == null ? 0 : checked((int)(ulong)count)][];
            for (int i = 0; i < der.Length; i++)
                der[i] = Native.Bytes(certs[i].der, certs[i].len);
            return new PeerIdentity(Native.String(subject), der);
        }

        /// <summary>The identity of a server's connection (<c>wsx_conn_peer_identity</c>); <see cref="None"/> if it cannot be read.</summary>
        internal static unsafe PeerIdentity Of(IntPtr conn)
        {
            var identity = new NativeMethods.wsx_peer_identity { struct_size = (UIntPtr)sizeof(NativeMethods.wsx_peer_identity) };
            if (NativeMethods.wsx_conn_peer_identity(conn, &identity) != WsxResult.Ok)
                return None;
            return Copy(identity.subject, identity.certs, identity.certs_len);
        }

        /// <summary>RFC 4514 text, most specific first (<c>CN=alice,O=Example</c>), or null when the client sent no certificate.</summary>
        internal string Subject { get; }

        /// <summary>The chain as the client sent it, leaf first (empty: none).</summary>
        internal IReadOnlyList<X509Certificate2> Certificates
        {
            get { return certificates.Value; }
        }
    }
}
