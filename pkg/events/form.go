package events

import (
	"errors"
	"fmt"
	"net/url"
	"unicode/utf8"
)

// MergeValues adds form or query values to p, a repeated key keeping its last value. Every
// key and value must be UTF-8 (what the seeds ask clients to percent-encode): a lookup on
// mangled text would silently find nothing. The gateway reads its queries and forms with it,
// and the poller a Location's query, so that both refuse the same parameters.
func MergeValues(p Params, v url.Values) error {
	for k, vs := range v {
		if len(vs) == 0 {
			continue
		}
		if !utf8.ValidString(k) {
			return errors.New("a parameter name is not UTF-8 (percent-encode UTF-8, not GBK)")
		}
		val := vs[len(vs)-1]
		if !utf8.ValidString(val) {
			return fmt.Errorf("parameter %q is not UTF-8 (percent-encode UTF-8, not GBK)", k)
		}
		p[k] = val
	}
	return nil
}
