package proctest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// The binaries Build knows, by the name they get.
const (
	BinAllInOne = "openqq"
	BinSession  = "openqq-session"
	BinGateway  = "openqq-gateway"
	BinReporter = "openqq-reporter"
	BinPoller   = "openqq-poller"
	BinNATS     = "nats-server"
	BinProfiled = "openqq-profiled"
)

// target is how one binary is built: its package, from a module directory of the repository.
type target struct {
	module string // relative to the repository; "" is its root (go.work)
	pkg    string
}

var targets = map[string]target{
	BinAllInOne: {"", "./cmd/openqq"},
	BinSession:  {"", "./services/session/cmd/openqq-session"},
	BinGateway:  {"", "./services/gateway/cmd/openqq-gateway"},
	BinReporter: {"", "./services/reporter/cmd/openqq-reporter"},
	BinPoller:   {"", "./services/poller/cmd/openqq-poller"},
	BinProfiled: {"", "./bench/cmd/openqq-profiled"},
	// nats-server from the module that has it in its graph: nothing is downloaded but modules.
	BinNATS: {"pkg/infra", "github.com/nats-io/nats-server/v2"},
}

// Build builds the named binaries (BinSession, ...) of the repository at repo into dir, with
// one go build per module directory.
func Build(ctx context.Context, repo, dir string, names ...string) error {
	byModule := map[string][]string{}
	var order []string
	for _, n := range names {
		tg, ok := targets[n]
		if !ok {
			return fmt.Errorf("proctest: no binary %q", n)
		}
		if _, seen := byModule[tg.module]; !seen {
			order = append(order, tg.module)
		}
		byModule[tg.module] = append(byModule[tg.module], n)
	}
	for _, m := range order {
		ns := byModule[m]
		args := []string{"build"}
		if len(ns) == 1 {
			args = append(args, "-o", filepath.Join(dir, ns[0]), targets[ns[0]].pkg)
		} else {
			// go build -o dir/ names each binary after its package's directory, as ours are.
			args = append(args, "-o", dir+string(filepath.Separator))
			for _, n := range ns {
				if filepath.Base(targets[n].pkg) != n {
					return fmt.Errorf("proctest: %s is not built from a directory of its name", n)
				}
				args = append(args, targets[n].pkg)
			}
		}
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = filepath.Join(repo, m)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s (in %s): %w\n%s", strings.Join(args, " "), cmd.Dir, err, out)
		}
	}
	return nil
}

// The binaries of this test process, built once into one temporary directory.
var cache struct {
	sync.Mutex
	dir   string
	built map[string]bool
}

// Binaries builds the named binaries once per process (a test binary) into a temporary
// directory, and returns it; a later call builds only what is missing. RemoveBinaries (in
// TestMain) deletes the directory.
func Binaries(ctx context.Context, names ...string) (string, error) {
	cache.Lock()
	defer cache.Unlock()
	if cache.dir == "" {
		d, err := os.MkdirTemp("", "openqq-proctest-bin-")
		if err != nil {
			return "", err
		}
		cache.dir, cache.built = d, map[string]bool{}
	}
	var missing []string
	for _, n := range names {
		if !cache.built[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return cache.dir, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	repo, err := FindRepo(wd)
	if err != nil {
		return "", err
	}
	if err := Build(ctx, repo, cache.dir, missing...); err != nil {
		return "", err
	}
	for _, n := range missing {
		cache.built[n] = true
	}
	return cache.dir, nil
}

// RemoveBinaries deletes what Binaries built.
func RemoveBinaries() {
	cache.Lock()
	defer cache.Unlock()
	if cache.dir != "" {
		_ = os.RemoveAll(cache.dir)
		cache.dir, cache.built = "", nil
	}
}
