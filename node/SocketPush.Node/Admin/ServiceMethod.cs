using System.Collections.Concurrent;
using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using System.Text.Json;
using SocketPush.Client.Services;

namespace SocketPush.Node.Admin;

/// <summary>
/// Calls a service method named by its catalog entry: the arguments bound from a JSON object of wire names, the
/// call itself through a delegate compiled once per method (not reflected per call), the result as a CLR value.
/// The HTTP API serves calls through it; calls between nodes are typed peer requests instead (Cluster/Peers).
/// </summary>
internal sealed class ServiceMethod
{
    private static readonly ConcurrentDictionary<MethodInfo, ServiceMethod> Compiled = new();

    private readonly Func<object, object?[], Task> _call;
    private readonly Func<Task, object?>? _result;

    private ServiceMethod(MethodDescriptor descriptor)
    {
        Descriptor = descriptor;
        var method = descriptor.Method;
        var target = Expression.Parameter(typeof(object), "target");
        var args = Expression.Parameter(typeof(object?[]), "args");
        var parameters = method.GetParameters()
            .Select((p, i) => Expression.Convert(Expression.ArrayIndex(args, Expression.Constant(i)), p.ParameterType));
        var call = Expression.Call(Expression.Convert(target, method.DeclaringType!), method, parameters);
        _call = Expression.Lambda<Func<object, object?[], Task>>(Expression.Convert(call, typeof(Task)), target, args).Compile();
        if (method.ReturnType != typeof(Task))
        {
            var task = Expression.Parameter(typeof(Task), "task");
            var result = Expression.Property(Expression.Convert(task, method.ReturnType), "Result");
            _result = Expression.Lambda<Func<Task, object?>>(Expression.Convert(result, typeof(object)), task).Compile();
        }
    }

    public MethodDescriptor Descriptor { get; }

    public static ServiceMethod For(MethodDescriptor descriptor) => Compiled.GetOrAdd(descriptor.Method, _ => new ServiceMethod(descriptor));

    /// <summary>Runs the call; a <see cref="ServiceException"/> thrown early or late arrives as itself.</summary>
    public async Task<object?> InvokeAsync(object target, object?[] arguments)
    {
        var task = _call(target, arguments);
        await task.ConfigureAwait(false);
        return _result?.Invoke(task);
    }

    /// <summary>Binds a JSON object of parameters, by wire name, to the method's arguments.</summary>
    public object?[] Bind(JsonElement body, CancellationToken cancellationToken)
    {
        var descriptor = Descriptor;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var property in body.EnumerateObject())
        {
            var name = Unicode("a parameter name", () => property.Name)!;
            if (descriptor.Parameters.All(p => p.Name != name))
            {
                throw new ServiceException(ErrorCodes.InvalidArgument,
                    $"{descriptor.Service}.{descriptor.Name} has no parameter '{name}'. Parameters: {ParameterList()}.");
            }

            // JSON readers disagree on which of two values wins; a call that names a parameter twice is ambiguous.
            if (!seen.Add(name))
            {
                throw new ServiceException(ErrorCodes.InvalidArgument, $"{name} is given twice.");
            }
        }

        var arguments = new object?[descriptor.Parameters.Count + 1];
        for (var i = 0; i < descriptor.Parameters.Count; i++)
        {
            var parameter = descriptor.Parameters[i];
            // A message may be any JSON value, null included; an id may not be null. An optional parameter that is
            // left out or null gets its C# default, so that a client need not tell "not given" from "given as null".
            var given = body.TryGetProperty(parameter.Name, out var value);
            if (!given || (value.ValueKind == JsonValueKind.Null && parameter.Type != "json"))
            {
                arguments[i] = parameter.Optional
                    ? DefaultOf(i)
                    : throw new ServiceException(ErrorCodes.InvalidArgument, $"{parameter.Name} is required.");
                continue;
            }

            arguments[i] = parameter.Type switch
            {
                "json" => value,
                "integer" => value.ValueKind switch
                {
                    JsonValueKind.Number when value.TryGetDecimal(out var number) => Integer(parameter.Name, number),
                    // As an id accepts a number, an integer accepts a string of one: what a form field or a path holds.
                    JsonValueKind.String => ParseInteger(parameter.Name, Unicode(parameter.Name, value.GetString)!),
                    _ => throw NotAnInteger(parameter.Name),
                },
                _ => value.ValueKind switch
                {
                    JsonValueKind.String => Unicode(parameter.Name, value.GetString),
                    JsonValueKind.Number => value.GetRawText(), // a number is a valid id, as in socket-push
                    _ => throw new ServiceException(ErrorCodes.InvalidArgument, $"{parameter.Name} must be a string or a number."),
                },
            };
        }

        arguments[^1] = cancellationToken;
        return arguments;
    }

    /// <summary>The C# default of the i-th parameter, which an optional one that is not given gets.</summary>
    public object? DefaultOf(int index) => Descriptor.Method.GetParameters()[index].DefaultValue;

    /// <summary>
    /// A decimal integer in the range of <see cref="int"/>, as text: an <c>integer</c> parameter sent as a JSON string or
    /// as a segment of the path form.
    /// </summary>
    public static int ParseInteger(string name, string text) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) ? number : throw NotAnInteger(name);

    // A JSON number with no fraction, however written (5, 5.0, 5e0), as JSON Schema's "integer" has it.
    private static int Integer(string name, decimal number) =>
        number == decimal.Truncate(number) && number is >= int.MinValue and <= int.MaxValue ? (int)number : throw NotAnInteger(name);

    private static ServiceException NotAnInteger(string name) => new(ErrorCodes.InvalidArgument, $"{name} must be an integer.");

    /// <summary>JSON text with an unpaired surrogate escape (<c>"\ud800"</c>) cannot become a .NET string: a bad argument.</summary>
    private static string? Unicode(string what, Func<string?> read)
    {
        try
        {
            return read();
        }
        catch (InvalidOperationException)
        {
            throw new ServiceException(ErrorCodes.InvalidArgument, $"{what} holds an unpaired surrogate escape; it must be valid Unicode.");
        }
    }

    /// <summary>The parameter names for an error message; an optional one is marked <c>name?</c>.</summary>
    public string ParameterList() =>
        Descriptor.Parameters.Count == 0 ? "none" : string.Join(", ", Descriptor.Parameters.Select(p => p.Optional ? p.Name + "?" : p.Name));
}
