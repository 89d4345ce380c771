#!/usr/bin/env pwsh
# Thin wrapper over the dotnet commands documented in README.md.
param(
    [ValidateSet('build', 'test', 'sample', 'bench', 'pack')]
    [string]$Target = 'test'
)
$ErrorActionPreference = 'Stop'
switch ($Target) {
    'build'  { dotnet build Transport.sln -c Release }
    'test'   { dotnet test Transport.sln }
    'sample' { dotnet run --project samples/WebOverUds }
    'bench'  { dotnet run -c Release --project bench/Transport.UnixNative.Bench -- --quick }
    'pack'   { dotnet pack Transport.sln -c Release -o artifacts }
}
exit $LASTEXITCODE
