using System.Collections.Frozen;
using System.Reflection;
using System.Text.Json;

namespace SocketPush.Client.Services;

/// <summary>
/// The services, methods and parameters of the management API, read once from the service interfaces.
/// Everything that speaks the API (the node's routes and <c>/api</c>, the .NET client, the PHP generator)
/// is derived from this, so a name exists in exactly one place: the interface.
/// </summary>
public sealed class ServiceCatalog
{
    private readonly FrozenDictionary<string, ServiceDescriptor> _byName;

    private ServiceCatalog(IReadOnlyList<ServiceDescriptor> services)
    {
        Services = services;
        _byName = services.ToFrozenDictionary(s => s.Name, StringComparer.Ordinal);
    }

    /// <summary>The catalog of every public SocketPush service.</summary>
    public static ServiceCatalog Default { get; } = Build(typeof(IAuthService), typeof(IUserService), typeof(IChannelService), typeof(IManagerService), typeof(IWorkerService));

    /// <summary>The services in declaration order.</summary>
    public IReadOnlyList<ServiceDescriptor> Services { get; }

    /// <summary>Finds a method by its wire names.</summary>
    public bool TryFind(string service, string method, out ServiceDescriptor? serviceDescriptor, out MethodDescriptor? methodDescriptor)
    {
        methodDescriptor = null;
        if (!_byName.TryGetValue(service, out serviceDescriptor))
        {
            return false;
        }

        methodDescriptor = serviceDescriptor.Methods.FirstOrDefault(m => m.Name == method);
        return methodDescriptor is not null;
    }

    /// <summary>Builds a catalog from interfaces marked with <see cref="ServiceAttribute"/>.</summary>
    public static ServiceCatalog Build(params Type[] interfaces)
    {
        ArgumentNullException.ThrowIfNull(interfaces);
        return new ServiceCatalog([.. interfaces.Select(Describe)]);
    }

    private static ServiceDescriptor Describe(Type type)
    {
        var service = type.GetCustomAttribute<ServiceAttribute>()
            ?? throw new ArgumentException($"{type.Name} has no [Service] attribute.", nameof(type));
        var methods = type.GetMethods()
            .OrderBy(m => m.MetadataToken)
            .Select(m => DescribeMethod(service.Name, m))
            .ToList();
        return new ServiceDescriptor(service.Name, service.Description, type, methods);
    }

    private static MethodDescriptor DescribeMethod(string service, MethodInfo method)
    {
        var attribute = method.GetCustomAttribute<MethodAttribute>()
            ?? throw new ArgumentException($"{method.DeclaringType?.Name}.{method.Name} has no [Method] attribute.", nameof(method));
        var parameters = method.GetParameters();
        if (parameters.Length == 0 || parameters[^1].ParameterType != typeof(CancellationToken))
        {
            throw new ArgumentException($"{method.Name} must end with a CancellationToken parameter.", nameof(method));
        }

        var wireParameters = parameters[..^1].Select(p => DescribeParameter(p, method)).ToList();
        // The path form passes parameters by position, so only trailing ones can be left out (C# demands this of
        // defaults too; the check keeps an [Optional] attribute from getting around it).
        if (wireParameters.SkipWhile(p => !p.Optional).Any(p => !p.Optional))
        {
            throw new ArgumentException($"{method.Name}: optional parameters must come after every required one.", nameof(method));
        }

        return new MethodDescriptor(service, WireName(method.Name), attribute.Description, method, wireParameters, ResultType(method));
    }

    private static ParameterDescriptor DescribeParameter(ParameterInfo parameter, MethodInfo method)
    {
        var type = WireType(parameter.ParameterType, method);
        // A C# default makes the parameter optional on the wire: a call that leaves it out (or sends null) gets the default.
        var optional = parameter.HasDefaultValue;
        if (optional && type == "json")
        {
            // null is a JSON value like any other, so "null means the default" would take a value away from the method.
            throw new ArgumentException($"{method.Name}: the JsonElement parameter {parameter.Name} cannot be optional.", nameof(method));
        }

        return new ParameterDescriptor(parameter.Name!, type, optional);
    }

    private static string WireName(string clrName)
    {
        var name = clrName.EndsWith("Async", StringComparison.Ordinal) ? clrName[..^5] : clrName;
        return char.ToLowerInvariant(name[0]) + name[1..];
    }

    private static string WireType(Type type, MethodInfo method) =>
        type == typeof(string) ? "string"
        : type == typeof(int) || type == typeof(int?) ? "integer"
        : type == typeof(JsonElement) ? "json"
        : throw new ArgumentException($"{method.Name}: parameters must be string, int or JsonElement, not {type.Name}.", nameof(method));

    private static string ResultType(MethodInfo method)
    {
        var type = method.ReturnType;
        if (type == typeof(Task))
        {
            return "none";
        }

        var result = type.GetGenericArguments().Single();
        return result == typeof(string) ? "string"
            : result == typeof(int) ? "integer"
            : result == typeof(IReadOnlyList<string>) ? "string[]"
            : result == typeof(JsonElement) ? "object"
            : throw new ArgumentException($"{method.Name}: unsupported result type {result.Name}.", nameof(method));
    }
}

/// <summary>One service: its wire name, description, interface and methods.</summary>
public sealed record ServiceDescriptor(string Name, string Description, Type Interface, IReadOnlyList<MethodDescriptor> Methods);

/// <summary>
/// One method: wire name, description, the interface method, its parameters and the JSON type of its result
/// (<c>none</c>, <c>string</c>, <c>integer</c>, <c>string[]</c>, or <c>object</c>: a JSON object, a
/// <see cref="JsonElement"/> in C#). A <see cref="JsonElement"/> parameter is any JSON value, a result only an object,
/// so that clients can promise a keyed structure (a PHP array, say) rather than an arbitrary value.
/// </summary>
public sealed record MethodDescriptor(string Service, string Name, string Description, MethodInfo Method, IReadOnlyList<ParameterDescriptor> Parameters, string ResultType);

/// <summary>
/// One parameter: its wire name; its type, <c>string</c>, <c>integer</c> (a 32-bit integer) or <c>json</c> (any JSON
/// value); and whether it is optional: declared with a C# default, which a call that leaves it out gets.
/// </summary>
public sealed record ParameterDescriptor(string Name, string Type, bool Optional = false);
