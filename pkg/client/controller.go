package client

import "context"

// ControllerRequest sends one call of a Controller route (events.ControllerRoutes:
// start_client, stop_client, check_client, get_qrcode) to the Controller of the client's
// prefix (events.Subjects.Controller), which acts on the prefix's clients bucket whatever
// account the client is for. Replies and errors are Request's.
func (c *Client) ControllerRequest(ctx context.Context, route string, params []byte, opts ...CallOption) (*Reply, error) {
	return c.request(ctx, c.subj.Controller(route), route, params, opts...)
}
