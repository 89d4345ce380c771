namespace Transport.UnixNative.Tests.Infrastructure;

/// <summary>A local account the tests run curl as.</summary>
internal sealed record TestUser(string Name, uint Uid, uint Gid);

/// <summary>
/// Two unprivileged users and a group, created once if missing (CI runs as root; .ci/run may create them first):
/// <c>unx-member</c> is in group <c>unx-app</c> (a supplementary group), <c>unx-other</c> is not.
/// </summary>
internal sealed record TestUsers(TestUser Member, TestUser Other, uint AppGroupId)
{
    public const string AppGroup = "unx-app";
    public const string MemberName = "unx-member";
    public const string OtherName = "unx-other";

    private static readonly Lazy<Task<TestUsers>> s_users = new(CreateAsync);

    public static Task<TestUsers> GetAsync() => s_users.Value;

    private static async Task<TestUsers> CreateAsync()
    {
        if ((await ProcessRunner.RunAsync("getent", ["group", AppGroup])).ExitCode != 0)
        {
            await MustAsync("groupadd", "--system", AppGroup);
        }
        foreach (var (name, groups) in new[] { (MemberName, new[] { "--groups", AppGroup }), (OtherName, Array.Empty<string>()) })
        {
            if ((await ProcessRunner.RunAsync("id", ["-u", name])).ExitCode != 0)
            {
                await MustAsync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", .. groups, name]);
            }
        }
        if (!(await MustAsync("id", "-Gn", MemberName)).Split(' ', StringSplitOptions.TrimEntries).Contains(AppGroup))
        {
            await MustAsync("usermod", "--append", "--groups", AppGroup, MemberName);
        }
        if ((await MustAsync("id", "-Gn", OtherName)).Split(' ', StringSplitOptions.TrimEntries).Contains(AppGroup))
        {
            throw new InvalidOperationException($"Test user {OtherName} must not be in group {AppGroup}; remove it: gpasswd -d {OtherName} {AppGroup}");
        }
        var appGid = uint.Parse((await MustAsync("getent", "group", AppGroup)).Split(':')[2]);
        return new TestUsers(await LookUpAsync(MemberName), await LookUpAsync(OtherName), appGid);
    }

    private static async Task<TestUser> LookUpAsync(string name)
        => new(name, uint.Parse(await MustAsync("id", "-u", name)), uint.Parse(await MustAsync("id", "-g", name)));

    private static async Task<string> MustAsync(string program, params string[] arguments)
    {
        var result = await ProcessRunner.RunAsync(program, arguments);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed: {result}");
        }
        return result.StandardOutput.Trim();
    }
}
