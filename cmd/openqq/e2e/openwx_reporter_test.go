package e2e

import (
	"context"

	"github.com/openqq/openqq/pkg/infra/proctest"
)

// wxReporterSetup configures the reporters of startWX (placeholder until the rep branch lands).
type wxReporterSetup struct {
	noMediaData bool
	respond     func(*proctest.Request) proctest.Answer
}

type postAPI struct{ *proctest.Receiver }

func (w *wxEnv) startReporters(context.Context, wxSetup, map[string]chan error) *postAPI {
	w.t.Fatal("reporters: not yet")
	return nil
}
