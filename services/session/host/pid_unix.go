//go:build unix

package host

import (
	"errors"
	"syscall"
)

// pidAlive reports whether a process pid exists on this machine (signal 0 checks without
// sending anything).
func pidAlive(pid int) bool {
	if pid <= 0 {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || !errors.Is(err, syscall.ESRCH)
}
