using System.Threading.RateLimiting;
using SocketPush.Node.Configuration;

namespace SocketPush.Node.Admin;

/// <summary>
/// <c>admin.requestsPerSecond</c>: ASP.NET Core's rate limiter in front of the management calls, one token bucket per
/// API key (the partition <see cref="ManagementApi.GateAsync"/> found), holding one second's worth of calls as the
/// burst. Only calls whose key was accepted get this far, so wrong keys cannot make partitions.
/// </summary>
internal static class ManagementRateLimit
{
    public const string Policy = "management";

    /// <summary>Where the gate leaves the call's partition for the limiter.</summary>
    public static readonly object PartitionItem = new();

    public static IServiceCollection AddManagementRateLimit(this IServiceCollection services) =>
        services.AddRateLimiter(options =>
        {
            options.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            options.AddPolicy(Policy, Partition);
            options.OnRejected = (rejected, _) =>
            {
                var retryAfter = rejected.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
                return new ValueTask(rejected.HttpContext.RequestServices.GetRequiredService<ManagementApi>().RateLimitedAsync(rejected.HttpContext, retryAfter));
            };
        });

    private static RateLimitPartition<string> Partition(HttpContext context)
    {
        var rate = context.RequestServices.GetRequiredService<LiveConfig>().Current.Admin.RequestsPerSecond;
        var caller = context.Items[PartitionItem] as string ?? "";
        if (rate == 0)
        {
            return RateLimitPartition.GetNoLimiter("unlimited");
        }

        // The rate is part of the partition: after a reload that changes it, every caller starts on a bucket of the
        // new size, and the old buckets are dropped once idle.
        return RateLimitPartition.GetTokenBucketLimiter($"{rate}|{caller}", _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = rate,
            TokensPerPeriod = rate,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
    }
}
