#!/usr/bin/env bash
# The packages as a user gets them: pack the solution (only the two libraries may come out), then
# create a fresh `dotnet new web` app that references both from a local folder feed (its
# dependencies come from the usual feeds), serve it on a unix socket, and call it with curl and
# with the client package. Run by .ci/run; locally: eng/check-packages.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/un-pkg.XXXXXX)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
feed="$work/feed"

dotnet pack "$root/Transport.sln" -c Release -o "$feed" -nologo -v q -p:ContinuousIntegrationBuild=true
found=$(cd "$feed" && ls | sort | tr '\n' ' ')
version=$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' "$root/Directory.Build.props")
expected="Transport.UnixNative.$version.nupkg Transport.UnixNative.$version.snupkg Transport.UnixNative.Client.$version.nupkg Transport.UnixNative.Client.$version.snupkg "
if [ "$found" != "$expected" ]; then
    echo "check-packages: packing the solution gave '$found', expected exactly '$expected'" >&2
    exit 1
fi
for package in "$feed"/*.nupkg; do
    # Whole outputs in variables: `unzip | grep -q` fails under pipefail when grep stops reading early.
    listing=$(unzip -l "$package")
    echo "$listing"
    for entry in README.md LICENSE; do
        grep -q " $entry\$" <<<"$listing" || { echo "check-packages: $package has no $entry" >&2; exit 1; }
    done
    nuspec=$(unzip -p "$package" '*.nuspec')
    grep -q '<repository type="git" url=".*" .*commit="[0-9a-f]\{40\}"' <<<"$nuspec" \
        || { echo "check-packages: $package names no repository commit" >&2; exit 1; }
done

# A packages folder of its own: never a stale copy of the same version from an earlier run.
export NUGET_PACKAGES="$work/packages"
cd "$work"
dotnet new web -n FreshApp -o app --no-restore >/dev/null
cat > app/nuget.config <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="transport-unixnative-local" value="$feed" />
  </packageSources>
</configuration>
XML
cat > app/Program.cs <<'CS'
using Transport.UnixNative.Client;

if (args is ["client", var socket])
{
    using var http = new HttpClient(UnixSocketHttpHandler.Create(socket)) { BaseAddress = new("http://localhost") };
    Console.WriteLine(await http.GetStringAsync("/"));
    return 0;
}
var builder = WebApplication.CreateBuilder(args);
builder.WebHost.UseUnixNativeTransport();
var app = builder.Build();
app.MapGet("/", () => "fresh app over a unix socket");
app.Run();
return 0;
CS
(cd app && dotnet add package Transport.UnixNative --version "$version" >/dev/null \
    && dotnet add package Transport.UnixNative.Client --version "$version" >/dev/null \
    && dotnet build -c Release -nologo -v q -o out)

sock="$work/fresh.sock"
dotnet app/out/FreshApp.dll --urls "http://unix:$sock" >"$work/server.log" 2>&1 &
server=$!
reply=$(curl -s --retry 60 --retry-delay 1 --retry-all-errors --max-time 5 --unix-socket "$sock" http://localhost/) \
    || { echo "check-packages: curl over $sock failed; server log:" >&2; cat "$work/server.log" >&2; exit 1; }
client=$(dotnet app/out/FreshApp.dll client "$sock")
if [ "$reply" != "fresh app over a unix socket" ] || [ "$client" != "$reply" ]; then
    echo "check-packages: curl said '$reply', the client package said '$client'" >&2
    exit 1
fi
echo "check-packages: fresh app from the local feed answered over $sock (curl and Transport.UnixNative.Client): OK"
