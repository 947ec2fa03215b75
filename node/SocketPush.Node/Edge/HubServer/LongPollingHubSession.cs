using System.Buffers;

namespace SocketPush.Node.Edge.HubServer;

/// <summary>
/// A hub client over SignalR's long-polling transport. The first <c>GET</c> opens the session and is answered at
/// once, empty; each later one returns what is queued (200, every queued message in one body), waits up to
/// <see cref="PollTimeout"/> for something (then 200, empty) or, once the session has ended and its last messages
/// went out, answers 204, which tells the client the server closed it. A newer poll replaces a waiting one, which
/// gets 204. Polls are the client's keep-alive: no pings, and the client timeout counts from the last poll.
/// </summary>
internal sealed class LongPollingHubSession(string connectionId, string token, HubSessions sessions, string? userId, string? sessionId)
    : HttpHubSession(connectionId, token, ClientTransport.LongPolling, sessions, userId, sessionId)
{
    /// <summary>SignalR's: below the clients' 100-second request timeout.</summary>
    public static readonly TimeSpan PollTimeout = TimeSpan.FromSeconds(90);

    private CancellationTokenSource? _poll;
    private Task _previousPoll = Task.CompletedTask;

    protected override bool Binary => true;

    protected override bool InherentKeepAlive => true;

    /// <summary>A poll is waiting for messages.</summary>
    public bool PollOpen => Volatile.Read(ref _poll) is not null;

    protected override bool ClientPresent => PollOpen;

    /// <summary>Answers the first poll, which only confirms that the session exists.</summary>
    public static Task AnswerFirstPollAsync(HttpResponse response)
    {
        response.ContentType = "application/octet-stream";
        response.ContentLength = 0;
        return response.Body.FlushAsync();
    }

    /// <summary>Answers one poll; the answer says whether the session goes on.</summary>
    public async Task<bool> PollAsync(HttpContext context)
    {
        var mine = new CancellationTokenSource();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        CancellationTokenSource? replaced;
        Task previous;
        lock (SendGate)
        {
            replaced = _poll;
            _poll = mine;
            previous = _previousPoll;
            _previousPoll = done.Task;
        }

        MarkReceived();
        try
        {
            // The replaced poll answers 204 and takes nothing: what is queued goes to this one, in order.
            replaced?.Cancel();
            await previous;
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(mine.Token, context.RequestAborted);
            Outgoing[]? batch;
            try
            {
                batch = await TakeAsync(PollTimeout, stop.Token);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client gave up this poll; the client timeout notices if it does not poll again.
                return true;
            }
            catch (OperationCanceledException)
            {
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return true;
            }

            if (batch is null)
            {
                context.Response.ContentType = "text/plain";
                context.Response.ContentLength = 0;
                return true;
            }

            if (batch.Length == 0)
            {
                context.Response.StatusCode = StatusCodes.Status204NoContent;
                return false;
            }

            await WriteAsync(context.Response, batch);
            return true;
        }
        finally
        {
            // Before the poll counts as over, so the client timeout never sees an old time with no poll open.
            MarkReceived();
            lock (SendGate)
            {
                if (_poll == mine)
                {
                    _poll = null;
                }
            }

            done.SetResult();
        }
    }

    private async Task WriteAsync(HttpResponse response, Outgoing[] batch)
    {
        response.ContentType = "application/octet-stream";
        long length = 0;
        foreach (var item in batch)
        {
            length += item.Bytes.Length;
        }

        response.ContentLength = length;
        foreach (var item in batch)
        {
            // The pipe only buffers; the flush below sends the whole answer.
            response.BodyWriter.Write(item.Bytes.Span);
        }

        var flush = await response.BodyWriter.FlushAsync(response.HttpContext.RequestAborted);
        if (!flush.IsCanceled)
        {
            CountDelivered(batch);
        }
    }
}
