using System.Reflection;
using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using SocketPush.Client.Services;

namespace SocketPush.Node.Admin;

/// <summary>
/// <c>/openapi/v1.json</c> on the admin port: the JSON form of the management API (<c>POST /api/{service}/{method}</c>)
/// for any OpenAPI tool. Every path is written from <see cref="ServiceCatalog"/>, the same declaration that
/// <c>/api</c>, the routes and the clients come from; the endpoints themselves are left out, since one generic
/// route serves every method.
/// </summary>
internal static class OpenApiDocumentation
{
    public const string DocumentName = "v1";

    private const string JsonMediaType = "application/json";
    private const string BearerScheme = "apiKey";

    /// <summary>The id rules of <see cref="Ids"/> as JSON Schema patterns (a test checks that they agree).</summary>
    internal static readonly IReadOnlyDictionary<string, (string Pattern, int MaxLength, string Description)> IdSchemas =
        new Dictionary<string, (string, int, string)>(StringComparer.Ordinal)
        {
            ["userId"] = ("^[A-Za-z0-9._:@-]+$", Ids.MaxUserIdLength, "A user id: 1–128 characters of A-Z a-z 0-9 . _ : @ -"),
            ["channelId"] = ("^[A-Za-z0-9._:@/-]+$", Ids.MaxChannelIdLength, "A channel id: 1–200 characters of A-Z a-z 0-9 . _ : @ / -"),
            ["sessionId"] = ("^[!-~]+$", Ids.MaxSessionIdLength, "A session id: 1–256 printable ASCII characters, no spaces"),
        };

    public static IServiceCollection AddSocketPushOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(DocumentName, options =>
        {
            options.ShouldInclude = _ => false;
            options.AddDocumentTransformer((document, _, _) =>
            {
                Describe(document, ServiceCatalog.Default);
                return Task.CompletedTask;
            });
        });

    public static IEndpointConventionBuilder MapSocketPushOpenApi(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapOpenApi("/openapi/{documentName}.json");

    /// <summary>Fills <paramref name="document"/> with one operation per method of <paramref name="catalog"/>.</summary>
    internal static void Describe(OpenApiDocument document, ServiceCatalog catalog)
    {
        document.Info = new OpenApiInfo
        {
            Title = "SocketPush management API",
            Version = "1",
            Description =
                "Authorize users, subscribe them to channels and publish JSON messages to users and channels. " +
                "Every method is also reachable in socket-push's form, GET /{service}/{method}/{p1}/{p2}, and described at GET /api.",
        };
        document.Components ??= new OpenApiComponents();
        document.Components.Schemas = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
        {
            ["Error"] = ErrorSchema(),
        };
        foreach (var (name, id) in IdSchemas)
        {
            document.Components.Schemas[SchemaName(name)] = new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                MinLength = 1,
                MaxLength = id.MaxLength,
                Pattern = id.Pattern,
                Description = id.Description + " (a number is accepted too).",
            };
        }

        document.Components.SecuritySchemes = new Dictionary<string, IOpenApiSecurityScheme>(StringComparer.Ordinal)
        {
            [BearerScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "One of the node's admin.apiKeys (or its admin.apiKey), as Authorization: Bearer <key>. Needed only when the node has one.",
            },
        };
        document.Tags = new HashSet<OpenApiTag>(catalog.Services.Select(s => new OpenApiTag { Name = s.Name, Description = s.Description }));
        document.Paths = [];
        foreach (var service in catalog.Services)
        {
            foreach (var method in service.Methods)
            {
                document.Paths[$"/api/{service.Name}/{method.Name}"] = new OpenApiPathItem
                {
                    Operations = new Dictionary<HttpMethod, OpenApiOperation> { [HttpMethod.Post] = Operation(document, method) },
                };
            }
        }
    }

    private static OpenApiOperation Operation(OpenApiDocument document, MethodDescriptor method)
    {
        var parameters = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Properties = method.Parameters.ToDictionary(p => p.Name, p => ParameterSchema(document, p), StringComparer.Ordinal),
            // An optional parameter may be left out (or be null); the node then uses its default.
            Required = new HashSet<string>(method.Parameters.Where(p => !p.Optional).Select(p => p.Name), StringComparer.Ordinal),
            AdditionalPropertiesAllowed = false,
        };
        var responses = new OpenApiResponses
        {
            ["200"] = new OpenApiResponse
            {
                Description = ResultDescription(method.ResultType),
                Content = Json(new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal) { ["result"] = ResultSchema(method.ResultType) },
                    Required = new HashSet<string>(StringComparer.Ordinal) { "result" },
                }),
            },
        };
        foreach (var (status, description) in ErrorResponses(method))
        {
            responses[status] = new OpenApiResponse { Description = description, Content = Json(new OpenApiSchemaReference("Error", document)) };
        }

        return new OpenApiOperation
        {
            OperationId = $"{method.Service}.{method.Name}",
            Summary = method.Description,
            Tags = new HashSet<OpenApiTagReference> { new(method.Service, document) },
            RequestBody = new OpenApiRequestBody
            {
                // A method without required parameters takes an empty body as well as {}.
                Required = method.Parameters.Any(p => !p.Optional),
                Description = "The parameters, by name.",
                Content = Json(parameters),
            },
            Responses = responses,
            Security =
            [
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] },
                new OpenApiSecurityRequirement(),
            ],
        };
    }

    private static IOpenApiSchema ParameterSchema(OpenApiDocument document, ParameterDescriptor parameter) =>
        parameter.Type switch
        {
            "string" when IdSchemas.ContainsKey(parameter.Name) => new OpenApiSchemaReference(SchemaName(parameter.Name), document),
            "string" => new OpenApiSchema { Type = JsonSchemaType.String },
            "integer" => new OpenApiSchema
            {
                Type = JsonSchemaType.Integer,
                Format = "int32",
                Description = "An integer (a string of a decimal integer is accepted too).",
            },
            // Any JSON value: the empty schema.
            _ => new OpenApiSchema { Description = "Any JSON value." },
        };

    private static OpenApiSchema ResultSchema(string resultType) => resultType switch
    {
        "none" => new OpenApiSchema { Type = JsonSchemaType.Null },
        "string" => new OpenApiSchema { Type = JsonSchemaType.String },
        "integer" => new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Minimum = "0" },
        "string[]" => new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
        "object" => new OpenApiSchema { Type = JsonSchemaType.Object },
        _ => new OpenApiSchema(),
    };

    private static string ResultDescription(string resultType) => resultType switch
    {
        "none" => "Done; the result is null.",
        "integer" => "The number in result.",
        "string[]" => "The list in result.",
        "object" => "The JSON object in result.",
        _ => "The value in result.",
    };

    private static IEnumerable<(string Status, string Description)> ErrorResponses(MethodDescriptor method)
    {
        yield return ("400", "invalid_argument or malformed_json: a parameter is missing, unknown or invalid, or the body is not JSON.");
        yield return ("401", "unauthorized: the node has an API key and none was sent.");
        yield return (
            "403",
            method is { Service: "auth", Name: "check" }
                ? "authorization_failed: no user has this session; or forbidden: the API key is wrong."
                : "forbidden: the API key is wrong.");
        if (method is { Service: "channel", Name: "subscribe" })
        {
            yield return ("409", "limit_exceeded: the user is subscribed to options.maxSubscriptionsPerUser channels already.");
        }

        if (method.Parameters.Any(p => p.Type == "json"))
        {
            yield return ("413", "message_too_large: the message is larger than the node's options.maxMessageBytes.");
        }

        yield return ("429", "rate_limited: the API key made more than admin.requestsPerSecond calls; retry after the Retry-After header's seconds.");

        yield return ("503", "unavailable: the node that owns the data could not be reached in time.");
        yield return ("500", "internal: the node failed; its log has the details.");
    }

    private static OpenApiSchema ErrorSchema() => new()
    {
        Type = JsonSchemaType.Object,
        Properties = new Dictionary<string, IOpenApiSchema>(StringComparer.Ordinal)
        {
            ["error"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "What went wrong, for people." },
            ["code"] = new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                Description = "What went wrong, for programs.",
                Enum = [.. typeof(ErrorCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
                    .Where(f => f.IsLiteral)
                    .Select(f => (JsonNode)JsonValue.Create((string)f.GetRawConstantValue()!))],
            },
        },
        Required = new HashSet<string>(StringComparer.Ordinal) { "error", "code" },
    };

    private static Dictionary<string, OpenApiMediaType> Json(IOpenApiSchema schema) =>
        new(StringComparer.Ordinal) { [JsonMediaType] = new OpenApiMediaType { Schema = schema } };

    private static string SchemaName(string parameterName) => char.ToUpperInvariant(parameterName[0]) + parameterName[1..];
}
