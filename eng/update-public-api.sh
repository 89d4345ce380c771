#!/usr/bin/env bash
# Adds every public API the analyzer reports as undeclared (RS0016) to the project's
# PublicAPI.Unshipped.txt, sorted. Review the diff: each line is a promise to users.
# Removed APIs (RS0017) are listed, not deleted: remove those lines by hand.
#   eng/update-public-api.sh            # both packages
set -euo pipefail
cd "$(dirname "$0")/.."
for project in src/Transport.UnixNative src/Transport.UnixNative.Client; do
    unshipped="$project/PublicAPI.Unshipped.txt"
    log=$(mktemp)
    # No incremental build: the analyzer only reports on files it compiles.
    dotnet build "$project" --no-incremental -p:TreatWarningsAsErrors=false -nologo >"$log" 2>&1 || true
    added=$(grep -o "RS0016: Symbol '.*' is not part of the declared public API" "$log" \
        | sed -E "s/^RS0016: Symbol '(.*)' is not part of the declared public API$/\1/" | sort -u || true)
    removed=$(grep -o "RS0017: Symbol '.*' is part of the declared API, but is either not public or could not be found" "$log" \
        | sed -E "s/^RS0017: Symbol '(.*)' is part of the declared API.*/\1/" | sort -u || true)
    if [ -n "$added" ]; then
        { grep -v '^#nullable enable$' "$unshipped" || true; printf '%s\n' "$added"; } | sed '/^$/d' | sort -u > "$unshipped.new"
        { echo '#nullable enable'; cat "$unshipped.new"; } > "$unshipped"
        rm "$unshipped.new"
        echo "$unshipped: added $(printf '%s\n' "$added" | wc -l) line(s)"
    fi
    if [ -n "$removed" ]; then
        echo "$project: no longer public (remove from PublicAPI.*.txt by hand):"
        printf '  %s\n' "$removed"
    fi
    rm -f "$log"
done
