namespace SocketPush.Client.Services;

/// <summary>Marks an interface as a SocketPush service and gives its wire name and description.</summary>
[AttributeUsage(AttributeTargets.Interface, Inherited = false)]
public sealed class ServiceAttribute(string name, string description) : Attribute
{
    /// <summary>The name used on the wire, for example <c>auth</c>.</summary>
    public string Name { get; } = name;

    /// <summary>One line that says what the service is for.</summary>
    public string Description { get; } = description;
}

/// <summary>Describes one method of a service. The wire name is the C# name without <c>Async</c>, camel-cased.</summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false)]
public sealed class MethodAttribute(string description) : Attribute
{
    /// <summary>One line that says what the method does and what it returns.</summary>
    public string Description { get; } = description;
}
