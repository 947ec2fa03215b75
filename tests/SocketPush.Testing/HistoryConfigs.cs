namespace SocketPush.Testing;

/// <summary>Config sections of history for node processes in tests.</summary>
public static class HistoryConfigs
{
    /// <summary>Every stream keeps two messages: a client away for three is told its recovery was incomplete.</summary>
    public const string TwoMessages = """
        history:
          channels:
            - match: "*"
              size: 2
              age: 2m
          users:
            - match: "*"
              size: 2
              age: 2m
        """;
}
