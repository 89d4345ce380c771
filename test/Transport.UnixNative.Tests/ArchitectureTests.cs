using System.Reflection;
using System.Reflection.Emit;

namespace Transport.UnixNative.Tests;

/// <summary>
/// The server's folders are layers, and references point down only:
/// entry points → Hosting → features → Core → Core.Diagnostics → Interop.
/// Read from the compiled assembly (signatures, fields, base types and every method body's IL),
/// so a reference hidden in a lambda or an async method counts too.
/// </summary>
public class ArchitectureTests
{
    private const string Root = "Transport.UnixNative";

    // Higher number = higher layer. A type may reference its own layer and any lower one.
    private static readonly (string Namespace, int Layer)[] Layers =
    [
        (Root + ".Interop", 0),
        (Root + ".Core.Diagnostics", 1),
        (Root + ".Core.Loop", 2),
        (Root + ".Core.Pipes", 2),
        (Root + ".Core.Connection", 2),
        (Root + ".Core.Listener", 2),
        (Root + ".Restart", 3),
        (Root + ".Access", 3),
        (Root + ".Authentication", 3),
        (Root + ".Descriptors", 3),
        (Root + ".SendFile", 3),
        (Root + ".Connected", 3),
        (Root + ".Hosting", 4),
    ];

    private const int EntryPointLayer = 5;

    // The public contracts at the root (options, endpoints, feature interfaces) are read by every
    // layer; they may themselves reach no higher than Core. The root's entry points (the factory and
    // the extension classes in Microsoft.* namespaces) sit above Hosting.
    private const int ContractLayer = -1;
    private const int ContractReachesUpTo = 2;

    private static int LayerOf(Type type)
    {
        while (type.DeclaringType is { } outer)
        {
            type = outer; // lambdas and state machines are their declaring type's
        }
        var ns = type.Namespace ?? "";
        if (type == typeof(UnixNativeTransportFactory) || ns.StartsWith("Microsoft.", StringComparison.Ordinal))
        {
            return EntryPointLayer;
        }
        if (ns == Root)
        {
            return ContractLayer;
        }
        foreach (var (prefix, layer) in Layers)
        {
            if (ns == prefix || ns.StartsWith(prefix + ".", StringComparison.Ordinal))
            {
                return layer;
            }
        }
        throw new InvalidOperationException($"{type.FullName} is in no layer: add its namespace to {nameof(Layers)}.");
    }

    private static bool MayReference(int from, int to) => to == ContractLayer
        || (from == ContractLayer ? to <= ContractReachesUpTo : to <= from);

    [Fact]
    public void EveryReference_PointsDown()
    {
        var reverse = ReverseReferences(typeof(UnixNativeTransportFactory).Assembly);
        Assert.True(reverse.Count == 0, "References that point up:\n" + string.Join("\n", reverse.Order()));
    }

    private static List<string> ReverseReferences(Assembly assembly)
    {
        var found = new List<string>();
        foreach (var type in assembly.GetTypes())
        {
            var ns = type.Namespace ?? "";
            if (!ns.StartsWith(Root, StringComparison.Ordinal) && !ns.StartsWith("Microsoft.", StringComparison.Ordinal))
            {
                continue; // compiler-generated types without a namespace are checked through their users
            }
            var from = LayerOf(type);
            foreach (var used in ReferencedTypes(type).Distinct())
            {
                if (used.Assembly != assembly || used.Namespace is null || (!used.Namespace.StartsWith(Root, StringComparison.Ordinal) && !used.Namespace.StartsWith("Microsoft.", StringComparison.Ordinal)))
                {
                    continue;
                }
                var to = LayerOf(used);
                if (!MayReference(from, to))
                {
                    found.Add($"{type.FullName} -> {used.FullName}");
                }
            }
        }
        return found;
    }

    private const BindingFlags Everything = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static IEnumerable<Type> ReferencedTypes(Type type)
    {
        var direct = new List<Type?> { type.BaseType };
        direct.AddRange(type.GetInterfaces());
        direct.AddRange(type.GetFields(Everything).Select(f => f.FieldType));
        direct.AddRange(type.GetProperties(Everything).Select(p => p.PropertyType));
        direct.AddRange(type.GetEvents(Everything).Select(e => e.EventHandlerType));
        var methods = type.GetMethods(Everything).Cast<MethodBase>().Concat(type.GetConstructors(Everything));
        foreach (var method in methods)
        {
            if (method is MethodInfo info)
            {
                direct.Add(info.ReturnType);
            }
            direct.AddRange(method.GetParameters().Select(p => p.ParameterType));
            direct.AddRange(TypesInBody(method));
        }
        foreach (var t in direct)
        {
            foreach (var expanded in Expand(t))
            {
                yield return expanded;
            }
        }
    }

    private static IEnumerable<Type> Expand(Type? type)
    {
        if (type is null || type.IsGenericParameter)
        {
            yield break;
        }
        if (type.HasElementType)
        {
            foreach (var element in Expand(type.GetElementType()))
            {
                yield return element;
            }
            yield break;
        }
        yield return type.IsGenericType ? type.GetGenericTypeDefinition() : type;
        if (type.IsGenericType)
        {
            foreach (var argument in type.GetGenericArguments().SelectMany(Expand))
            {
                yield return argument;
            }
        }
    }

    private static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>Every type a method body names: in calls, field accesses, casts, allocations, tokens.</summary>
    private static IEnumerable<Type> TypesInBody(MethodBase method)
    {
        byte[]? il;
        try
        {
            il = method.GetMethodBody()?.GetILAsByteArray();
        }
        catch (Exception e) when (e is BadImageFormatException or InvalidOperationException)
        {
            yield break;
        }
        if (il is null)
        {
            yield break;
        }
        var module = method.Module;
        var typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var position = 0;
        while (position < il.Length)
        {
            short value = il[position++];
            if (value == 0xFE)
            {
                value = (short)(0xFE00 | il[position++]);
            }
            var opcode = OpCodesByValue[value];
            switch (opcode.OperandType)
            {
                case OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok:
                    var token = BitConverter.ToInt32(il, position);
                    var member = module.ResolveMember(token, typeArguments, methodArguments);
                    switch (member)
                    {
                        case Type t:
                            yield return t;
                            break;
                        case FieldInfo f:
                            yield return f.DeclaringType!;
                            yield return f.FieldType;
                            break;
                        case MethodBase m:
                            yield return m.DeclaringType!;
                            if (m is MethodInfo mi)
                            {
                                yield return mi.ReturnType;
                                foreach (var argument in mi.IsGenericMethod ? mi.GetGenericArguments() : [])
                                {
                                    yield return argument;
                                }
                            }
                            break;
                    }
                    position += 4;
                    break;
                case OperandType.InlineSwitch:
                    var count = BitConverter.ToInt32(il, position);
                    position += 4 + (4 * count);
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    position += 1;
                    break;
                case OperandType.InlineVar:
                    position += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    position += 8;
                    break;
                default:
                    position += 4;
                    break;
            }
        }
    }
}
