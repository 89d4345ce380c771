namespace Transport.UnixNative.Ecosystem.Tests.Interop;

/// <summary>A private directory for an outside program's config, pid, log and temp files; removed on dispose.</summary>
internal sealed class PrivateDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateDirectory($"/tmp/unx-{TestPaths.Hex8()}").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string text)
    {
        var file = File(name);
        System.IO.File.WriteAllText(file, text);
        return file;
    }

    public void Dispose() => TestPaths.DeleteQuietly(Path);
}
