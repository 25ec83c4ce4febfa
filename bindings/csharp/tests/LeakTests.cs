using System;
using System.Collections.Generic;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;

namespace Wsx.Tests
{
    /// <summary>Every native handle the binding creates is freed, counted by the native side
    /// (<c>wsx_debug_live_objects</c>).</summary>
    internal static partial class Program
    {
        [StructLayout(LayoutKind.Sequential)]
        struct LiveObjects
        {
            public UIntPtr StructSize;
            public UIntPtr Connections;
            public UIntPtr Servers;
            public UIntPtr Loops;
        }

        [DllImport("wsx", CallingConvention = CallingConvention.Cdecl)]
        static extern int wsx_debug_live_objects(ref LiveObjects counts);

        static LiveObjects Live()
        {
            var counts = new LiveObjects { StructSize = (UIntPtr)Marshal.SizeOf(typeof(LiveObjects)) };
            Assert.Equal(0, wsx_debug_live_objects(ref counts), "wsx_debug_live_objects");
            return counts;
        }

        static void LeakTests(Runner runner)
        {
            runner.Run("native handles: closed, disposed and abandoned clients and servers are all freed", HandlesFreed);
        }

        static async Task HandlesFreed()
        {
            // The process-wide loop exists from the first client on; it is not counted against us.
            using (var warm = new WsxServer(new WsxServerOptions()))
            {
                warm.Start();
                using (var client = await Connect(new Uri("ws://127.0.0.1:" + warm.Port + "/")))
                    await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
            }
            LiveObjects baseline = await Settle(null);

            var server = new WsxServer(new WsxServerOptions());
            server.Start();
            var url = new Uri("ws://127.0.0.1:" + server.Port + "/");
            await OpenAndDrop(url);
            LiveObjects during = Live();
            Assert.True((ulong)during.Connections >= (ulong)baseline.Connections + 4,
                "the open connections are counted (" + during.Connections + " live, baseline " + baseline.Connections + ")");
            Assert.True((ulong)during.Servers == (ulong)baseline.Servers + 1, "the server is counted");
            // Disposing the server closes every connection it has, so the abandoned open clients end too.
            server.Dispose();
            await Settle(baseline);
        }

        /// <summary>Two clients closed and never disposed, two disposed, two left open and abandoned.
        /// Not inlined, so that nothing on the caller's frame keeps them reachable.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        static async Task OpenAndDrop(Uri url)
        {
            var clients = new List<WsxClient>();
            for (int i = 0; i < 6; i++)
                clients.Add(await Connect(url));
            for (int i = 0; i < 2; i++)
                await clients[i].CloseAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
            for (int i = 2; i < 4; i++)
                clients[i].Dispose();
            clients.Clear();
        }

        /// <summary>Collects garbage until the live counts are back at <paramref name="baseline"/> (or, with
        /// none, until they stop changing), and returns them; fails after 20 s.</summary>
        static async Task<LiveObjects> Settle(LiveObjects? baseline)
        {
            LiveObjects last = Live();
            for (int round = 0; round < 400; round++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                await Task.Delay(50);
                LiveObjects now = Live();
                bool done = baseline.HasValue
                    ? (ulong)now.Connections <= (ulong)baseline.Value.Connections
                      && (ulong)now.Servers <= (ulong)baseline.Value.Servers
                    : now.Connections == last.Connections && now.Servers == last.Servers && round >= 3;
                if (done)
                    return now;
                last = now;
            }
            throw new Exception("native objects still live after 20 s: " + last.Connections + " connections, "
                + last.Servers + " servers" + (baseline.HasValue ? " (baseline " + baseline.Value.Connections
                + " connections, " + baseline.Value.Servers + " servers)" : ""));
        }
    }
}
