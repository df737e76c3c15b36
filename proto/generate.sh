#!/usr/bin/env bash
# Regenerates the Go code of the protobuf API under gen/ from proto/.
#
#   proto/generate.sh            # from anywhere inside the repository
#
# It uses protoc from Debian's protobuf-compiler package (apt-get install
# protobuf-compiler) and installs the pinned plugins with `go install` into
# a temporary GOBIN, so nothing outside the repository changes. The output is
# deterministic for a given protoc: protoc's version is written into every
# generated header, so the script refuses any protoc but PROTOC_VERSION
# (set PROTOC_ALLOW_OTHER=1 to try another one locally; do not commit that
# output). proto/check.sh runs this script and fails when gen/ changes.
set -euo pipefail

# Pinned versions. Keep them in step with go.mod (google.golang.org/protobuf,
# connectrpc.com/connect): the generated code calls into those runtimes.
PROTOC_VERSION="3.21.12"          # Debian 12 protobuf-compiler
PROTOC_GEN_GO_VERSION="v1.36.12"  # google.golang.org/protobuf
PROTOC_GEN_CONNECT_GO_VERSION="v1.21.1" # connectrpc.com/connect

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if ! command -v protoc >/dev/null 2>&1; then
	echo "generate.sh: protoc not found; install it with: apt-get install -y protobuf-compiler" >&2
	exit 1
fi
have="$(protoc --version | awk '{print $2}')"
if [ "$have" != "$PROTOC_VERSION" ] && [ "${PROTOC_ALLOW_OTHER:-}" != 1 ]; then
	echo "generate.sh: protoc $have found, want $PROTOC_VERSION (the version is part of the generated files)" >&2
	exit 1
fi

gobin="$(mktemp -d)"
trap 'rm -rf "$gobin"' EXIT
GOBIN="$gobin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@${PROTOC_GEN_GO_VERSION}"
GOBIN="$gobin" go install "connectrpc.com/connect/cmd/protoc-gen-connect-go@${PROTOC_GEN_CONNECT_GO_VERSION}"

# Start from nothing so a removed .proto leaves no stale output behind.
rm -rf gen/coderclaw
mkdir -p gen
# Sorted, repository-relative paths: the same input order on every machine.
mapfile -t files < <(cd proto && find . -name '*.proto' -printf '%P\n' | LC_ALL=C sort)
PATH="$gobin:$PATH" protoc \
	--proto_path=proto \
	--go_out=gen --go_opt=paths=source_relative \
	--connect-go_out=gen --connect-go_opt=paths=source_relative \
	"${files[@]}"
unformatted="$(gofmt -l gen)"
if [ -n "$unformatted" ]; then
	echo "generate.sh: generated code is not gofmt-clean: $unformatted" >&2
	exit 1
fi
echo "generate.sh: regenerated gen/ from ${#files[@]} file(s) with protoc $have, protoc-gen-go $PROTOC_GEN_GO_VERSION, protoc-gen-connect-go $PROTOC_GEN_CONNECT_GO_VERSION"
