#!/usr/bin/env bash
# CI check: the committed generated code under gen/ is exactly what
# proto/generate.sh produces from proto/. Fails, listing the differences,
# when a .proto changed without regenerating, when generated files were
# edited by hand, or when generation adds files that are not committed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

"$root/proto/generate.sh"

status=0
if ! git diff --exit-code --stat -- gen/; then
	echo "check.sh: gen/ differs from the output of proto/generate.sh; run it and commit the result" >&2
	status=1
fi
untracked="$(git ls-files --others --exclude-standard -- gen/)"
if [ -n "$untracked" ]; then
	echo "check.sh: generated files not committed:" >&2
	echo "$untracked" >&2
	status=1
fi
exit $status
