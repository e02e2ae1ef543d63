package client

import (
	"context"
)

// ForClient is a client of the same connection, prefix and time-out for the account named
// client (events.Subjects.ForClient): "" or events.DefaultClient is the default account. The
// name is not checked here: a caller that takes it from outside checks it with
// events.ValidClient first, since it becomes a subject token.
func (c *Client) ForClient(client string) *Client {
	d := *c
	d.subj = c.subj.ForClient(client)
	return &d
}

// ControllerRequest sends one call of a Controller route (events.ControllerRoutes:
// start_client, stop_client, check_client, get_qrcode) to the Controller of the client's
// prefix (events.Subjects.Controller), which acts on the prefix's clients bucket whatever
// account the client is for. Replies and errors are Request's.
func (c *Client) ControllerRequest(ctx context.Context, route string, params []byte, opts ...CallOption) (*Reply, error) {
	return c.request(ctx, c.subj.Controller(route), route, params, opts...)
}
