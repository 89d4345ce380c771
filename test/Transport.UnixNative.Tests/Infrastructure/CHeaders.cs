using System.Globalization;
using System.Runtime.InteropServices;

namespace Transport.UnixNative.Tests.Infrastructure;

/// <summary>
/// What the C library's own headers say: a tiny C program, compiled by gcc, prints <c>name value</c>
/// lines (sizeof, offsetof, constants), so a wrong managed definition fails a test instead of
/// corrupting memory at run time.
/// </summary>
internal sealed class CHeaders(Dictionary<string, long> values)
{
    /// <summary>The line a program prints per value: <c>P("name", expression);</c>.</summary>
    public const string PrintMacro = """#define P(name, value) printf("%s %zu\n", name, (size_t)(value))""";

    public static async Task<CHeaders> CompileAndRunAsync(string program)
    {
        var dir = Directory.CreateTempSubdirectory("un-layout-");
        try
        {
            var source = Path.Combine(dir.FullName, "layout.c");
            var binary = Path.Combine(dir.FullName, "layout");
            await File.WriteAllTextAsync(source, program);
            var compile = await ProcessRunner.RunAsync("gcc", ["-O0", "-o", binary, source], TimeSpan.FromSeconds(60));
            Assert.True(compile.ExitCode == 0, "gcc failed: " + compile.StandardError);
            var run = await ProcessRunner.RunAsync(binary, []);
            Assert.Equal(0, run.ExitCode);
            return new CHeaders(run.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line.Split(' '))
                .ToDictionary(p => p[0], p => long.Parse(p[1], CultureInfo.InvariantCulture)));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    public long this[string name] => values[name];

    public bool TryGetValue(string name, out long value) => values.TryGetValue(name, out value);

    /// <summary>Asserts that C and the managed definition agree on <paramref name="name"/>.</summary>
    public void Same(string name, long managed)
        => Assert.True(values[name] == managed, $"{name}: C says {values[name]}, the managed definition says {managed}");

    public static long Offset<T>(string field) => Marshal.OffsetOf<T>(field).ToInt64();
}
