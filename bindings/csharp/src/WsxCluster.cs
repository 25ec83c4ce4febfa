using System;

namespace Wsx
{
    /// <summary>
    /// How a <see cref="WsxServer"/> joins a cluster sharing its pub/sub topics through Redis
    /// (<c>wsx_cluster_options</c>, set as <see cref="WsxServerOptions.Cluster"/>): what one node
    /// publishes also reaches the subscribers of every other node. The link to Redis is one more
    /// connection of the library's loop (no thread). An unreachable Redis is not an error: the
    /// server serves its own subscribers, reports the cluster down and reconnects. Every value
    /// left null or 0 takes the library's default; the library checks the rest when the server
    /// starts (a <see cref="WsxException"/> with <see cref="WsxResult.InvalidArgument"/>).
    /// </summary>
    public sealed class WsxClusterOptions
    {
        /// <summary>A cluster reached at <paramref name="url"/>: <c>redis://[[user]:password@]host[:port][/db]</c>, or <c>rediss://</c> for TLS.</summary>
        public WsxClusterOptions(string url)
        {
            Url = url ?? throw new ArgumentNullException(nameof(url));
        }

        /// <summary>The Redis URL (required).</summary>
        public string Url { get; set; }

        /// <summary>Prefix of the Redis channel names (null: <c>"wsx:"</c>): topic T is channel prefix + T, so applications can share a Redis.</summary>
        public string Prefix { get; set; }

        /// <summary>This node's id, at most 255 bytes (null: a random one, read back from <see cref="WsxServer.ClusterNodeId"/>).</summary>
        public string NodeId { get; set; }

        /// <summary>For <c>rediss://</c>: a PEM file of extra CA certificates (null: none).</summary>
        public string TlsCaFile { get; set; }

        /// <summary>How the link reconnects (null: the library's defaults; <see cref="WsxReconnectPolicy.QueueWhileDisconnected"/> and <see cref="WsxReconnectPolicy.RetryOn4xx"/> do not apply).</summary>
        public WsxReconnectPolicy Reconnect { get; set; }

        /// <summary>Most publications waiting for the broker (0: 10,000).</summary>
        public long MaxQueued { get; set; }

        /// <summary>Most bytes of publications waiting for the broker (0: 16 MiB).</summary>
        public long MaxQueuedBytes { get; set; }

        /// <summary>What a publication does when that queue is full (default: drop the oldest; a dropped one is a gap for the other nodes).</summary>
        public WsxQueueFull QueueFull { get; set; }

        /// <summary>Time allowed to connect to Redis and finish HELLO (null: 5 s).</summary>
        public TimeSpan? ConnectTimeout { get; set; }

        /// <summary>A PING this often; no answer within as long again drops the link (null: 5 s).</summary>
        public TimeSpan? KeepAlive { get; set; }

        /// <summary>
        /// Sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7). Against a Redis Cluster, each channel goes
        /// to the master of its hash slot (one link per master in use, following MOVED).
        /// </summary>
        public bool Sharded { get; set; }
    }

    /// <summary>What a cluster publication does when the queue for the broker is full (<c>wsx_queue_full</c>).</summary>
    public enum WsxQueueFull
    {
        /// <summary>The oldest waiting publication is dropped.</summary>
        DropOldest = 0,
        /// <summary>The new publication is not queued for the broker (local subscribers still get it).</summary>
        DropNewest = 1,
    }

    /// <summary>The state of a server's link to its cluster's broker (<c>wsx_cluster_state</c>).</summary>
    public enum WsxClusterState
    {
        /// <summary>The first connection to the broker is being made.</summary>
        Connecting = 0,
        /// <summary>Connected; every topic with local subscribers is subscribed.</summary>
        Up = 1,
        /// <summary>The broker cannot be reached: publications reach local subscribers only, the link reconnects with backoff.</summary>
        Down = 2,
        /// <summary>Connected again; subscribing every topic anew.</summary>
        Resubscribing = 3,
    }

    /// <summary>Figures of a server's cluster link (<c>wsx_server_cluster_stats</c>), copied.</summary>
    public sealed class WsxClusterStats
    {
        internal WsxClusterStats(NativeMethods.wsx_cluster_stats s)
        {
            State = (WsxClusterState)s.state;
            Epoch = s.epoch;
            Published = s.published;
            Received = s.received;
            Queued = s.queued;
            Dropped = s.dropped;
            Gaps = s.gaps;
            Disconnects = s.disconnects;
            Subscriptions = s.subscriptions;
        }

        /// <summary>The link's state.</summary>
        public WsxClusterState State { get; }
        /// <summary>This node's epoch (new at each start).</summary>
        public ulong Epoch { get; }
        /// <summary>Publications handed to the broker.</summary>
        public ulong Published { get; }
        /// <summary>Publications of other nodes received.</summary>
        public ulong Received { get; }
        /// <summary>Publications waiting for the broker now.</summary>
        public ulong Queued { get; }
        /// <summary>Publications dropped because the queue was full.</summary>
        public ulong Dropped { get; }
        /// <summary>Gap events raised.</summary>
        public ulong Gaps { get; }
        /// <summary>Times the link to the broker was lost.</summary>
        public ulong Disconnects { get; }
        /// <summary>Channels subscribed on the broker now.</summary>
        public ulong Subscriptions { get; }
    }

    /// <summary>The link to the cluster's broker changed state.</summary>
    public sealed class WsxClusterStateEventArgs : EventArgs
    {
        internal WsxClusterStateEventArgs(WsxClusterState state, string detail)
        {
            State = state;
            Detail = detail;
        }

        /// <summary>The new state.</summary>
        public WsxClusterState State { get; }

        /// <summary>Why, in words: the error that took the link down and when the next attempt comes, or what is subscribed.</summary>
        public string Detail { get; }
    }

    /// <summary>
    /// Publications of another node to a topic with local subscribers were lost: resynchronise
    /// the topic's subscribers. Raised when that node's next publication arrives, before it is delivered.
    /// </summary>
    public sealed class WsxClusterGapEventArgs : EventArgs
    {
        internal unsafe WsxClusterGapEventArgs(NativeMethods.wsx_cluster_gap* gap)
        {
            Topic = Native.String(gap->topic, gap->topic_len);
            Node = Native.String(gap->node, gap->node_len);
            Epoch = gap->epoch;
            EpochChanged = gap->epoch_changed != 0;
            PreviousEpoch = EpochChanged ? gap->previous_epoch : (ulong?)null;
            Expected = gap->expected;
            Received = gap->received;
            Missed = EpochChanged ? (ulong?)null : gap->missed;
        }

        /// <summary>The topic.</summary>
        public string Topic { get; }
        /// <summary>The publishing node's id.</summary>
        public string Node { get; }
        /// <summary>The publisher's epoch now.</summary>
        public ulong Epoch { get; }
        /// <summary>The publisher restarted (a new epoch): how much was lost is unknown.</summary>
        public bool EpochChanged { get; }
        /// <summary>When <see cref="EpochChanged"/>: the epoch before; else null.</summary>
        public ulong? PreviousEpoch { get; }
        /// <summary>The sequence number expected next (in <see cref="PreviousEpoch"/> if it changed).</summary>
        public ulong Expected { get; }
        /// <summary>The sequence number that arrived.</summary>
        public ulong Received { get; }
        /// <summary>How many publications were lost; null when <see cref="EpochChanged"/> (unknown).</summary>
        public ulong? Missed { get; }
    }
}
