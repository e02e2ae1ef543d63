// Package puppetpb is the Go code generated from Wechaty's puppet-service gRPC API
// (github.com/wechaty/grpc, proto/wechaty/puppet.proto and its imports, copied in proto/).
// Do not edit the *.pb.go files: run go generate (gen.sh) after changing proto/.
package puppetpb

//go:generate ./gen.sh
