// Package events is openqq's wire contract: the NATS subjects the services talk on, the JSON
// shapes of Mojo-Webqq's Openqq API (roster objects, message and event reports, API replies),
// and the API error codes. It does no I/O, so every service and every bot written in Go can
// import it without pulling in a transport.
//
// Field names and JSON types follow shared/COMPAT.md: every id, uid and time is a JSON integer,
// names are always strings, and the keys of roster objects and API replies come out in sorted
// order as Mojo's JSON encoder wrote them (a message report puts its own keys before those of
// its sender, receiver, group and send result).
package events
