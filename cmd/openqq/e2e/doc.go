// Package e2e holds openqq's end-to-end tests: a real NATS server, the real session with the
// simulated account and the real gateway, driven over HTTP on loopback.
package e2e
