#!/bin/sh
# Regenerates the Go code of the Wechaty puppet-service gRPC API from proto/, a verbatim copy
# of github.com/wechaty/grpc's proto/ at f1ecd6c6327c82cd372fd867c2846835e9552fd1 (2023-07-27,
# Apache-2.0, see proto/LICENSE). Needs protoc (Debian: apt-get install protobuf-compiler, which
# also brings google/protobuf/*.proto) and the two Go plugins, which `make wechaty-proto` installs
# at the versions below. The build and the tests do not need any of this: the output is committed.
#
# puppet.proto's REST annotations (google.api.http, openapiv2) only serve Wechaty's HTTP
# gateway; they are stripped from a temporary copy so that googleapis is not needed.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r proto/wechaty "$tmp/"
perl -0pi -e 's/^import "(google\/api|protoc-gen-openapiv2)\/[^"]*";\n//mg; s/option\s*\((?:google\.api\.http|grpc\.gateway\.[\w.]+)\)\s*=\s*(\{(?:[^{}]++|(?-1))*\})\s*;//gs' "$tmp/wechaty/puppet.proto"
files=$(cd "$tmp" && find wechaty -name '*.proto' | sort)
m=""
for f in $files; do m="$m,M$f=github.com/openqq/openqq/services/session/wxdriver/wechaty/puppetpb;puppetpb"; done
protoc -I "$tmp" -I /usr/include \
	--go_out="paths=source_relative$m:$tmp" \
	--go-grpc_out="paths=source_relative$m:$tmp" \
	$files
rm -f ./*.pb.go
find "$tmp/wechaty" -name '*.pb.go' | while read -r g; do
	cp "$g" "./$(echo "${g#"$tmp"/wechaty/}" | tr '/-' '__')"
done
