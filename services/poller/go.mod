module github.com/openqq/openqq/services/poller

go 1.26.0

replace (
	github.com/openqq/openqq/pkg/events => ../../pkg/events
	github.com/openqq/openqq/pkg/infra => ../../pkg/infra
)

require (
	github.com/nats-io/nats.go v1.55.0
	github.com/openqq/openqq/pkg/events v0.0.0
	github.com/openqq/openqq/pkg/infra v0.0.0
)

require (
	github.com/kelseyhightower/envconfig v1.4.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
