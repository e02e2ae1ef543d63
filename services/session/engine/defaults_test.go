package engine

import (
	"testing"

	"github.com/openqq/openqq/pkg/infra/config/configtest"
)

// A Config built in code and one read from an empty environment are the same: each setting
// has one default, its `default` tag.
func TestDefaultsDefinedOnce(t *testing.T) {
	configtest.DefinedOnce(t, "", (*Config).Fill, "POST_EVENT") // false in code is a choice
}
