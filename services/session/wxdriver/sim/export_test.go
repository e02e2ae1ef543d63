package sim

import "time"

// SetClock sets the clock the revoke window is measured with.
func SetClock(s *Sim, now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}
