using SocketPush.Client.Services;

namespace SocketPush.Node.Edge;

/// <summary>Checks the userId and sessionId a client presents against auth.check.</summary>
internal sealed class ClientAuthenticator(IAuthService auth)
{
    /// <summary>The message every refused client sees; the log holds the precise reason.</summary>
    public const string Failure = "Authorization failed";

    /// <summary>Null when the pair is valid, else why not (for the log).</summary>
    public async Task<string?> ProblemAsync(string? userId, string? sessionId, CancellationToken cancellationToken)
    {
        if (Ids.Problem("userId", userId) is { } userProblem)
        {
            return userProblem;
        }

        if (Ids.Problem("sessionId", sessionId) is { } sessionProblem)
        {
            return sessionProblem;
        }

        try
        {
            var owner = await auth.CheckAsync(sessionId!, cancellationToken);
            return owner == userId ? null : $"session belongs to another user, not {userId}";
        }
        catch (ServiceException e) when (e.Code == ErrorCodes.AuthorizationFailed)
        {
            return $"unknown session for user {userId}";
        }
    }
}
