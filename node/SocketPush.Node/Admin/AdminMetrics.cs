using System.Diagnostics.Metrics;

namespace SocketPush.Node.Admin;

/// <summary>Admin's own metrics: management API calls. Exported, with every other area's, by <see cref="PrometheusExporter"/>.</summary>
internal sealed class AdminMetrics
{
    private readonly Counter<long> _apiCalls;

    public AdminMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create("SocketPush.Admin");
        _apiCalls = MetricLabels.Of("service", "method", "code").Create(
            meter, "socketpush_api_calls_total", name => meter.CreateCounter<long>(name, description: "Management API calls by service, method and result code."));
    }

    public void ApiCall(string service, string method, string code) =>
        _apiCalls.Add(1, new KeyValuePair<string, object?>("service", service), new KeyValuePair<string, object?>("method", method), new KeyValuePair<string, object?>("code", code));
}
