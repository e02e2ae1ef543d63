//go:build !unix

package host

// pidAlive cannot tell here: every process is taken for alive, and a dead predecessor's
// leases expire with LEASE_TTL.
func pidAlive(int) bool { return true }
