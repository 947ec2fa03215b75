using System.Net;

namespace SocketPush.Gossip;

/// <summary>Checks <see cref="GossipOptions"/> and names every setting that is wrong.</summary>
public static class GossipOptionsValidator
{
    /// <summary>Problems found, one sentence each; empty when the options are usable.</summary>
    public static IReadOnlyList<string> Validate(GossipOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();

        if (!IPAddress.TryParse(options.BindAddress, out var bind))
        {
            errors.Add($"BindAddress '{options.BindAddress}' is not an IP address.");
        }
        else if ((bind.Equals(IPAddress.Any) || bind.Equals(IPAddress.IPv6Any)) && string.IsNullOrEmpty(options.AdvertiseAddress))
        {
            errors.Add("AdvertiseAddress is required when BindAddress listens on all interfaces.");
        }

        if (options.AdvertiseAddress is { } advertise && !IPAddress.TryParse(advertise, out _))
        {
            errors.Add($"AdvertiseAddress '{advertise}' is not an IP address.");
        }

        if (options.Port is < 0 or > 65535)
        {
            errors.Add($"Port {options.Port} is outside 0..65535.");
        }

        foreach (var seed in options.Seeds ?? [])
        {
            if (!TryParseEndPoint(seed, out _))
            {
                errors.Add($"Seed '{seed}' is not host:port.");
            }
        }

        if (options.Secret is { Length: 0 })
        {
            errors.Add("Secret is empty; leave it unset to disable sealing.");
        }

        if (options.PreviousSecret is { Length: 0 })
        {
            errors.Add("PreviousSecret is empty; leave it unset when no rotation is under way.");
        }
        else if (options.PreviousSecret is not null && options.Secret is null)
        {
            errors.Add("PreviousSecret needs a Secret: it is only a second key accepted beside the current one.");
        }

        if (options.Swim is not { } swim)
        {
            errors.Add("Swim is required.");
        }
        else
        {
            Positive(errors, nameof(swim.ProbeInterval), swim.ProbeInterval);
            Positive(errors, nameof(swim.ProbeTimeout), swim.ProbeTimeout);
            if (swim.ProbeTimeout >= swim.ProbeInterval)
            {
                errors.Add("ProbeTimeout must be shorter than ProbeInterval, or indirect probes get no time.");
            }

            AtLeast(errors, nameof(swim.IndirectChecks), swim.IndirectChecks, 0);
            AtLeast(errors, nameof(swim.SuspicionMult), swim.SuspicionMult, 1);
            AtLeast(errors, nameof(swim.SuspicionMaxTimeoutMult), swim.SuspicionMaxTimeoutMult, 1);
            AtLeast(errors, nameof(swim.RetransmitMult), swim.RetransmitMult, 1);
            Positive(errors, nameof(swim.GossipInterval), swim.GossipInterval);
            AtLeast(errors, nameof(swim.GossipNodes), swim.GossipNodes, 1);
            NotNegative(errors, nameof(swim.GossipToTheDeadTime), swim.GossipToTheDeadTime);
            Positive(errors, nameof(swim.PushPullInterval), swim.PushPullInterval);
            AtLeast(errors, nameof(swim.AwarenessMaxMultiplier), swim.AwarenessMaxMultiplier, 1);
            Positive(errors, nameof(swim.DeadMemberRetention), swim.DeadMemberRetention);
            Positive(errors, nameof(swim.ReconnectInterval), swim.ReconnectInterval);
            Positive(errors, nameof(swim.JoinRetryInterval), swim.JoinRetryInterval);
        }

        Positive(errors, nameof(options.LeaveTimeout), options.LeaveTimeout);
        if (options.PeerConnectTimeout < TimeSpan.FromMilliseconds(40) || options.PeerConnectTimeout > TimeSpan.FromMinutes(5))
        {
            // LiteNetLib retries a connect request on its own timer; below a few of its ticks the limit cannot be kept.
            errors.Add($"PeerConnectTimeout {options.PeerConnectTimeout} is outside 40 ms..5 min.");
        }

        if (options.MaxDatagramSize is < 512 or > 65000)
        {
            errors.Add($"MaxDatagramSize {options.MaxDatagramSize} is outside 512..65000.");
        }

        if (options.MaxMetadataBytes is < 1 or > 4096)
        {
            errors.Add($"MaxMetadataBytes {options.MaxMetadataBytes} is outside 1..4096.");
        }

        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem.</summary>
    public static void ThrowIfInvalid(GossipOptions options)
    {
        var errors = Validate(options);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid gossip options: " + string.Join(" ", errors), nameof(options));
        }
    }

    internal static bool TryParseEndPoint(string? text, out IPEndPoint endPoint)
    {
        endPoint = null!;
        if (string.IsNullOrWhiteSpace(text) || !IPEndPoint.TryParse(text, out var parsed) || parsed.Port == 0)
        {
            return false;
        }

        endPoint = parsed;
        return true;
    }

    private static void Positive(List<string> errors, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{name} must be positive (was {value}).");
        }
    }

    private static void NotNegative(List<string> errors, string name, TimeSpan value)
    {
        if (value < TimeSpan.Zero)
        {
            errors.Add($"{name} must not be negative (was {value}).");
        }
    }

    private static void AtLeast(List<string> errors, string name, int value, int min)
    {
        if (value < min)
        {
            errors.Add($"{name} must be at least {min} (was {value}).");
        }
    }
}
