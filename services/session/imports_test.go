package session

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/openqq/openqq/services/session/"

// The seams of the session hold: the engine imports no platform and no driver (the driver
// contract included: a platform brings its own), and the QQ platform imports no driver
// implementation (drivers register themselves with driver.Register and a binary chooses the
// ones it offers by importing them). Nor does this package.
func TestImportSeams(t *testing.T) {
	for _, c := range []struct {
		dir       string
		forbidden []string // a package and those below it; with a trailing slash, only those below
	}{
		{"engine", []string{module + "qq", module + "driver", module + "roster"}},
		{"qq", []string{module + "driver/"}},
		{".", []string{module + "driver/"}},
	} {
		t.Run(c.dir, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(c.dir, "*.go"))
			if err != nil {
				t.Fatal(err)
			}
			if len(files) == 0 {
				t.Fatalf("no Go files in %s", c.dir)
			}
			fset := token.NewFileSet()
			for _, name := range files {
				if strings.HasSuffix(name, "_test.go") {
					continue
				}
				f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
				if err != nil {
					t.Fatal(err)
				}
				for _, imp := range f.Imports {
					path, _ := strconv.Unquote(imp.Path.Value)
					for _, bad := range c.forbidden {
						if path == bad || strings.HasPrefix(path, strings.TrimSuffix(bad, "/")+"/") {
							t.Errorf("%s imports %s", name, path)
						}
					}
				}
			}
		})
	}
}
