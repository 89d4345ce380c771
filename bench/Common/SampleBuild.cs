using System.Diagnostics;

namespace Transport.UnixNative.Bench.Common;

/// <summary>Finds the repository and builds the apps in Release, the builds every measurement runs.</summary>
internal sealed class SampleBuild(string root)
{
    public string Root => root;

    public string ProjectDirectory => Path.Combine(root, "samples", "WebOverUds");

    public string Dll => BenchApp.Sample.Dll(root);

    public string DllOf(BenchApp app) => app.Dll(root);

    /// <summary>The directory holding Transport.sln: <paramref name="explicitRoot"/>, or upwards from the working directory, or from this program.</summary>
    public static SampleBuild Locate(string? explicitRoot)
    {
        if (explicitRoot is not null)
        {
            return File.Exists(Path.Combine(explicitRoot, "Transport.sln"))
                ? new SampleBuild(explicitRoot)
                : throw new DirectoryNotFoundException($"--root {explicitRoot}: no Transport.sln there");
        }
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Transport.sln")))
                {
                    return new SampleBuild(dir.FullName);
                }
            }
        }
        throw new DirectoryNotFoundException($"no Transport.sln above {Environment.CurrentDirectory} or {AppContext.BaseDirectory}; pass --root");
    }

    /// <summary>Locates the repository and the sample's Release build, building it first when <paramref name="build"/> is set.</summary>
    public static async Task<SampleBuild> LocateSampleAsync(string? explicitRoot, bool build, TextWriter log, CancellationToken cancellationToken)
    {
        var layout = Locate(explicitRoot);
        if (build)
        {
            await layout.BuildAsync(log, cancellationToken).ConfigureAwait(false);
        }
        return File.Exists(layout.Dll) ? layout : throw new FileNotFoundException($"no sample build at {layout.Dll}; run without --no-build");
    }

    /// <summary>The repository's short commit, for a report's record; "unknown" without git.</summary>
    public string Commit()
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", ["-C", root, "rev-parse", "--short", "HEAD"]) { RedirectStandardOutput = true, RedirectStandardError = true });
            if (git is null)
            {
                return "unknown";
            }
            var commit = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            return git.ExitCode == 0 ? commit : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }

    /// <summary>Builds the sample only.</summary>
    public Task BuildAsync(TextWriter log, CancellationToken cancellationToken) => BuildAsync([BenchApp.Sample], log, cancellationToken);

    public async Task BuildAsync(IEnumerable<BenchApp> apps, TextWriter log, CancellationToken cancellationToken)
    {
        foreach (var app in apps)
        {
            await BuildAsync(app.ProjectDirectory(root), log, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task BuildAsync(string projectDirectory, TextWriter log, CancellationToken cancellationToken)
    {
        log.WriteLine($"Building {projectDirectory} (Release)…");
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = root,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[] { "build", "-c", "Release", projectDirectory, "-nologo", "-v", "q" })
        {
            info.ArgumentList.Add(arg);
        }
        using var build = Process.Start(info) ?? throw new IOException("could not start dotnet build");
        var stdout = build.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = build.StandardError.ReadToEndAsync(cancellationToken);
        await build.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (build.ExitCode != 0)
        {
            throw new IOException($"dotnet build -c Release {projectDirectory} failed ({build.ExitCode}):\n{await stdout.ConfigureAwait(false)}{await stderr.ConfigureAwait(false)}");
        }
    }
}
