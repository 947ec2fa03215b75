using System.Buffers;
using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Reflection;
using System.Text.Json;
using SocketPush.Client.Services;

namespace SocketPush.Client;

/// <summary>
/// Makes typed proxies of the service interfaces. Every method of the interface becomes a call through an
/// <see cref="IServiceInvoker"/>, named and shaped by <see cref="ServiceCatalog"/>, so a method added to an
/// interface is reachable through the proxy with no other change.
/// </summary>
public static class ServiceProxy
{
    private static readonly ConcurrentDictionary<Type, FrozenDictionary<MethodInfo, ProxyCall>> Plans = new();

    /// <summary>Returns an implementation of <typeparamref name="TService"/> whose calls go to <paramref name="invoker"/>.</summary>
    /// <typeparam name="TService">A service interface marked with <see cref="ServiceAttribute"/>.</typeparam>
    public static TService Create<TService>(IServiceInvoker invoker)
        where TService : class
    {
        ArgumentNullException.ThrowIfNull(invoker);
        var plan = Plans.GetOrAdd(typeof(TService), static type => BuildPlan(type));
        var proxy = DispatchProxy.Create<TService, ServiceDispatchProxy>();
        ((ServiceDispatchProxy)(object)proxy).Initialize(plan, invoker);
        return proxy;
    }

    private static FrozenDictionary<MethodInfo, ProxyCall> BuildPlan(Type serviceInterface)
    {
        var service = ServiceCatalog.Default.Services.FirstOrDefault(s => s.Interface == serviceInterface)
            ?? ServiceCatalog.Build(serviceInterface).Services[0];
        return service.Methods.ToFrozenDictionary(m => m.Method, ProxyCall.For);
    }
}

/// <summary>How one interface method becomes a call: the catalog entry and a typed continuation for its result.</summary>
internal sealed class ProxyCall
{
    private static readonly MethodInfo CallWithResultMethod =
        typeof(ProxyCall).GetMethod(nameof(CallWithResultAsync), BindingFlags.NonPublic | BindingFlags.Static)!;

    private readonly Func<ProxyCall, IServiceInvoker, object?[], Task> _start;

    private ProxyCall(MethodDescriptor method, Func<ProxyCall, IServiceInvoker, object?[], Task> start)
    {
        Method = method;
        _start = start;
    }

    public MethodDescriptor Method { get; }

    public static ProxyCall For(MethodDescriptor method)
    {
        if (method.Method.ReturnType == typeof(Task))
        {
            return new ProxyCall(method, static (call, invoker, args) => CallAsync(call, invoker, args));
        }

        var resultType = method.Method.ReturnType.GetGenericArguments()[0];
        var start = CallWithResultMethod.MakeGenericMethod(resultType)
            .CreateDelegate<Func<ProxyCall, IServiceInvoker, object?[], Task>>();
        return new ProxyCall(method, start);
    }

    public Task Start(IServiceInvoker invoker, object?[] args) => _start(this, invoker, args);

    private static async Task CallAsync(ProxyCall call, IServiceInvoker invoker, object?[] args)
    {
        await Send(call.Method, invoker, args).ConfigureAwait(false);
    }

    private static async Task<T> CallWithResultAsync<T>(ProxyCall call, IServiceInvoker invoker, object?[] args)
    {
        var result = await Send(call.Method, invoker, args).ConfigureAwait(false);
        return ConvertResult<T>(call.Method, result);
    }

    private static Task<JsonElement> Send(MethodDescriptor method, IServiceInvoker invoker, object?[] args)
    {
        var cancellationToken = args[^1] is CancellationToken token ? token : CancellationToken.None;
        return invoker.InvokeAsync(method, EncodeArguments(method, args), cancellationToken);
    }

    internal static ReadOnlyMemory<byte> EncodeArguments(MethodDescriptor method, object?[] args)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            for (var i = 0; i < method.Parameters.Count; i++)
            {
                var (name, _, optional) = method.Parameters[i];
                switch (args[i])
                {
                    // Left out rather than sent as null: the node gives it its default either way, and a node from before
                    // the parameter existed would refuse a parameter it does not know.
                    case null when optional:
                        break;
                    case string text:
                        writer.WriteString(name, text);
                        break;
                    case int number:
                        writer.WriteNumber(name, number);
                        break;
                    case JsonElement { ValueKind: not JsonValueKind.Undefined } json:
                        writer.WritePropertyName(name);
                        json.WriteTo(writer);
                        break;
                    default:
                        writer.WriteNull(name);
                        break;
                }
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenMemory;
    }

    private static T ConvertResult<T>(MethodDescriptor method, JsonElement result)
    {
        try
        {
            // A JsonElement deserializes from any value, so for an object result the kind is what is checked.
            if (result.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null)
                && (method.ResultType != "object" || result.ValueKind == JsonValueKind.Object)
                && result.Deserialize<T>() is { } value)
            {
                return value;
            }
        }
        catch (JsonException)
        {
            // Reported below with the method and the expected type, which say more than the serializer's message.
        }

        throw new ServiceException(
            ErrorCodes.Internal,
            $"{method.Service}.{method.Name} answered {Describe(result)} where a result of type {method.ResultType} was expected.");
    }

    private static string Describe(JsonElement result) => result.ValueKind switch
    {
        JsonValueKind.Undefined => "nothing",
        JsonValueKind.Null => "null",
        var kind => $"a JSON {kind.ToString().ToLowerInvariant()}",
    };
}

/// <summary>The runtime-generated class behind every proxy; it must be unsealed for <see cref="DispatchProxy"/> to derive from it.</summary>
#pragma warning disable CA1852 // DispatchProxy derives a type from this class at run time.
internal class ServiceDispatchProxy : DispatchProxy
#pragma warning restore CA1852
{
    private FrozenDictionary<MethodInfo, ProxyCall> _calls = FrozenDictionary<MethodInfo, ProxyCall>.Empty;
    private IServiceInvoker? _invoker;

    internal void Initialize(FrozenDictionary<MethodInfo, ProxyCall> calls, IServiceInvoker invoker)
    {
        _calls = calls;
        _invoker = invoker;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (_invoker is null || !_calls.TryGetValue(targetMethod, out var call))
        {
            throw new NotSupportedException($"{targetMethod.DeclaringType?.Name}.{targetMethod.Name} is not a service method of this proxy.");
        }

        return call.Start(_invoker, args ?? []);
    }
}
