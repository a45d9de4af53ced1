// Package burst measures the router under a burst of firing events — one
// model's 2,000 features breaching at once, all joining one alert group —
// and counts the DynamoDB calls one event costs, so that changes to the
// group join and to Slack delivery can be measured before and after.
//
// Everything is in the tests: the router is wired as functions/router
// wires it (internal/setup, the pipeline's Processor, the deliver Sender),
// on DynamoDB Local, with the Slack and PagerDuty test servers of
// internal/notifytest. DynamoDB calls are counted by a middleware on the
// SDK client, per invocation. `make bench-burst` runs BenchmarkBurst
// (minutes; `make bench` skips it); TestCallsPerEvent runs with the unit
// tests.
package burst
