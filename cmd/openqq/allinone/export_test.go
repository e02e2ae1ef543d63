package allinone

// RunReady is Run that reports the gateway's address, for tests that listen on port 0.
var RunReady = run
