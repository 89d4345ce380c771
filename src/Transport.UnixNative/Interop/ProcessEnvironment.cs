using System.Runtime.InteropServices;

namespace Transport.UnixNative.Interop;

/// <summary>unsetenv(3): the C library's environment, which native code and exec'd children read.</summary>
internal static partial class ProcessEnvironment
{
    [LibraryImport(Libc.Name, EntryPoint = "unsetenv", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int unsetenv(string name);

    /// <summary>Removes <paramref name="name"/> from both the runtime's copy and the C library's.</summary>
    internal static void Remove(string name)
    {
        Environment.SetEnvironmentVariable(name, null);
        _ = unsetenv(name);
    }
}
