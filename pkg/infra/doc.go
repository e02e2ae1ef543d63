// Package infra groups what every openqq binary needs around its service: logging
// (infra/logging), the NATS connection (infra/natsconn) and an embedded NATS server for the
// all-in-one run and for tests (infra/embednats).
package infra
