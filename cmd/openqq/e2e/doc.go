// Package e2e holds openqq's end-to-end tests: a real NATS server, the real session with the
// simulated account and the real gateway, driven over HTTP on loopback. The Openwx tests
// (openwx_*_test.go, startWX) run the session with PLATFORM=wx over the simulated WeChat
// account, the gateway's /openwx/ and, when asked, reporters posting to a real post_api.
package e2e
