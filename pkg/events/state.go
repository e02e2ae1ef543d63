package events

// State is the client state of the seeds: init → loading → scaning → confirming → updating →
// running → stop. "scaning" is spelt as Mojo-Webqq spells it.
type State string

const (
	StateInit       State = "init"
	StateLoading    State = "loading"
	StateScaning    State = "scaning"
	StateConfirming State = "confirming"
	StateUpdating   State = "updating"
	StateRunning    State = "running"
	StateStop       State = "stop"
)
