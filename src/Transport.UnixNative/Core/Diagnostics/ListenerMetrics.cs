using System.Diagnostics;
using Transport.UnixNative.Interop;

namespace Transport.UnixNative.Core.Diagnostics;

/// <summary>
/// What one listener and its connections record. Every tag list is built once here; each
/// record is one <c>Enabled</c> check when nobody listens.
/// </summary>
internal sealed class ListenerMetrics
{
    private readonly UnixNativeMetrics _instruments;
    private readonly TagList _tags;
    private readonly TagList _received;
    private readonly TagList _sent;
    private readonly TagList _sendInline;
    private readonly TagList _sendQueued;
    private readonly TagList _sendWaiting;
    private readonly TagList _refusedAllowlist;
    private readonly TagList _refusedError;

    public ListenerMetrics(UnixNativeMetrics instruments, string address, bool isSeqpacket)
    {
        _instruments = instruments;
        _tags = new TagList
        {
            { "server.address", address },
            { "network.transport", "unix" },
            { "unixnative.socket.type", isSeqpacket ? "seqpacket" : "stream" },
        };
        _received = With("network.io.direction", "receive");
        _sent = With("network.io.direction", "transmit");
        _sendInline = With("unixnative.send.path", "inline");
        _sendQueued = With("unixnative.send.path", "queued");
        _sendWaiting = With("unixnative.send.path", "waiting");
        _refusedAllowlist = With("unixnative.refusal.reason", "allowlist");
        _refusedError = With("unixnative.refusal.reason", "error");
    }

    private TagList With(string key, string value)
    {
        var tags = _tags;
        tags.Add(key, value);
        return tags;
    }

    public void ConnectionAccepted()
    {
        if (_instruments.AcceptedConnections.Enabled)
        {
            _instruments.AcceptedConnections.Add(1, _tags);
        }
        if (_instruments.ActiveConnections.Enabled)
        {
            _instruments.ActiveConnections.Add(1, _tags);
        }
    }

    public void ConnectionClosed()
    {
        if (_instruments.ActiveConnections.Enabled)
        {
            _instruments.ActiveConnections.Add(-1, _tags);
        }
    }

    public void RefusedByAllowlist()
    {
        if (_instruments.RefusedConnections.Enabled)
        {
            _instruments.RefusedConnections.Add(1, _refusedAllowlist);
        }
    }

    public void RefusedByError()
    {
        if (_instruments.RefusedConnections.Enabled)
        {
            _instruments.RefusedConnections.Add(1, _refusedError);
        }
    }

    /// <summary>accept4 failed with <paramref name="errno"/>; rare, so the error tag is built here.</summary>
    public void AcceptError(int errno)
    {
        if (_instruments.AcceptErrors.Enabled)
        {
            var tags = _tags;
            tags.Add("error.type", Libc.ErrnoName(errno));
            _instruments.AcceptErrors.Add(1, tags);
        }
    }

    public void Received(long bytes)
    {
        if (_instruments.Io.Enabled)
        {
            _instruments.Io.Add(bytes, _received);
        }
    }

    public void Sent(long bytes)
    {
        if (_instruments.Io.Enabled)
        {
            _instruments.Io.Add(bytes, _sent);
        }
    }

    /// <summary>A send ran on the I/O thread (<paramref name="onLoop"/>) or from the loop's thread-pool send queue.</summary>
    public void SendStarted(bool onLoop)
    {
        if (_instruments.Sends.Enabled)
        {
            _instruments.Sends.Add(1, onLoop ? _sendInline : _sendQueued);
        }
    }

    public void SendWaitingForWritable()
    {
        if (_instruments.Sends.Enabled)
        {
            _instruments.Sends.Add(1, _sendWaiting);
        }
    }
}
