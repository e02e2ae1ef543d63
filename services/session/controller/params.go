package controller

import (
	"maps"
	"slices"
	"strings"

	"github.com/openqq/openqq/pkg/events"
	"github.com/openqq/openqq/pkg/infra/config"
)

// notSettings are the parameters of a start_client call that are not settings of the account:
// its name, and the JSONP envelope the gateway answers with (datatype, callback).
var notSettings = []string{events.ParamClient, "datatype", "callback"}

// keyAccount is the setting Mojo forced to the client's name.
const keyAccount = "ACCOUNT"

// Settings turns start_client's parameters into the settings of the account client: each
// parameter p becomes the setting strings.ToUpper(p), as Mojo's Controller made it the
// variable MOJO_WEBQQ_<uc p> of the account's process. Left out: the parameters that are not
// settings (client, datatype, callback), names that start with '_' (a cache buster; Mojo
// echoed none of them) or are empty, and account when it is the client's name (Mojo forced
// account=client). Refused, with a CodeBadRequest *events.Status: two parameters naming one
// setting (post_api and POST_API), and any other account.
//
// Settings does not judge the keys: session.ClientConfig tells which it knows.
func Settings(client string, p events.Params) (map[string]string, error) {
	out := make(map[string]string, len(p))
	from := make(map[string]string, len(p)) // setting → the parameter it came from
	for _, name := range slices.Sorted(maps.Keys(p)) {
		if name == "" || strings.HasPrefix(name, "_") || slices.Contains(notSettings, name) {
			continue
		}
		key := strings.ToUpper(name)
		if prev, dup := from[key]; dup {
			return nil, events.ErrBadRequest("parameters %q and %q are the same setting %s: give one", prev, name, key)
		}
		from[key] = name
		out[key] = p[name]
	}
	if acc, ok := out[keyAccount]; ok {
		if acc != client {
			return nil, events.ErrBadRequest("account %q: an account is named by its client (%q); leave account out", acc, client)
		}
		delete(out, keyAccount)
	}
	return out, nil
}

// Entry is an account's settings as a reply shows them: named as start_client's parameters
// (lower-case), each secret (config.Mask: …TOKEN, …PASSWORD, …SECRET) as "***" and each URL
// without its credentials and query values. The reply's own fields are added over them.
func Entry(settings map[string]string) map[string]any {
	out := make(map[string]any, len(settings)+8)
	for k, v := range settings {
		out[strings.ToLower(k)] = config.Mask(k, v)
	}
	return out
}
