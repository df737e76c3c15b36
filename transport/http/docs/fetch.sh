#!/bin/sh
# fetch.sh re-fetches the Redoc bundle that DocsHandler embeds, so that
# builds never need npm. Run it from anywhere to refresh or upgrade the
# checked-in copy, then review the diff (and the printed checksums) and
# run go test ./transport/http/.
#
#   transport/http/docs/fetch.sh            # the pinned version
#   REDOC_VERSION=2.5.4 transport/http/docs/fetch.sh
#
# It takes from the npm package redoc (MIT):
#   bundles/redoc.standalone.js              -> redoc.standalone.js
#   bundles/redoc.standalone.js.LICENSE.txt  -> redoc.standalone.js.LICENSE.txt
#                                               (notices of the bundled libraries)
#   LICENSE                                  -> LICENSE.redoc
# The files are copied unchanged.
set -eu

version="${REDOC_VERSION:-2.5.4}"
dir="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "redoc@$version" >/dev/null)
tar -xzf "$tmp/redoc-$version.tgz" -C "$tmp" \
	package/LICENSE \
	package/bundles/redoc.standalone.js \
	package/bundles/redoc.standalone.js.LICENSE.txt

cp "$tmp/package/bundles/redoc.standalone.js" "$dir/redoc.standalone.js"
cp "$tmp/package/bundles/redoc.standalone.js.LICENSE.txt" "$dir/redoc.standalone.js.LICENSE.txt"
cp "$tmp/package/LICENSE" "$dir/LICENSE.redoc"

echo "redoc $version:"
cd "$dir" && sha256sum redoc.standalone.js redoc.standalone.js.LICENSE.txt LICENSE.redoc
