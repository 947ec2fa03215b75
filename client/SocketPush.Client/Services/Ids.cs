namespace SocketPush.Client.Services;

/// <summary>
/// The rules for ids, applied by parameter name so that every method validates them the same way.
/// userId: 1–128 of <c>[A-Za-z0-9._:@-]</c>; channelId: 1–200 of <c>[A-Za-z0-9._:@/-]</c>;
/// sessionId: 1–256 printable ASCII characters without spaces.
/// </summary>
public static class Ids
{
    /// <summary>Longest userId accepted.</summary>
    public const int MaxUserIdLength = 128;

    /// <summary>Longest channelId accepted.</summary>
    public const int MaxChannelIdLength = 200;

    /// <summary>Longest sessionId accepted.</summary>
    public const int MaxSessionIdLength = 256;

    /// <summary>Returns null when <paramref name="value"/> is a valid value of the named id, else the reason it is not.</summary>
    public static string? Problem(string parameterName, string? value) => parameterName switch
    {
        "userId" => Check(value, "userId", MaxUserIdLength, static c => IsIdChar(c)),
        "channelId" => Check(value, "channelId", MaxChannelIdLength, static c => IsIdChar(c) || c == '/'),
        "sessionId" => Check(value, "sessionId", MaxSessionIdLength, static c => c is > ' ' and <= '~'),
        _ => null,
    };

    /// <summary>Throws <see cref="ServiceException"/> with code <c>invalid_argument</c> when the id is not valid.</summary>
    public static void Validate(string parameterName, string? value)
    {
        if (Problem(parameterName, value) is { } problem)
        {
            throw new ServiceException(ErrorCodes.InvalidArgument, problem);
        }
    }

    private static bool IsIdChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or ':' or '@' or '-';

    private static string? Check(string? value, string name, int maxLength, Func<char, bool> allowed)
    {
        if (string.IsNullOrEmpty(value))
        {
            return $"{name} is required.";
        }

        if (value.Length > maxLength)
        {
            return $"{name} is {value.Length} characters long; at most {maxLength} are allowed.";
        }

        foreach (var c in value)
        {
            if (!allowed(c))
            {
                return $"{name} contains '{c}', which is not allowed.";
            }
        }

        return null;
    }
}
