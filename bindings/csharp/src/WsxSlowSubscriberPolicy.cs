namespace Wsx
{
    /// <summary>
    /// What <see cref="WsxServer.Publish(string, string, WsxConnection)"/> does with a subscriber whose
    /// send queue is past its high-water mark, so that one stalled client never holds up or grows
    /// memory for the others (<c>wsx_slow_subscriber</c>).
    /// </summary>
    public enum WsxSlowSubscriberPolicy
    {
        /// <summary>It misses that message and stays connected (the default).</summary>
        Skip = 0,

        /// <summary>It is dropped at once: its connection closes with 1006.</summary>
        Drop = 1,
    }
}
