package reporter

import "github.com/openqq/openqq/pkg/events"

// orderKey is QQ's ordering key, which the QQ tests check their deliveries against.
func orderKey(item []byte) string { return qqPlatform{}.orderKey(item) }

// actions is what QQ's answer to a message report turns into.
func (r *Reporter) actions(m *events.Message, a Answer) []apiCall { return qqActions(m, a, r.log) }
