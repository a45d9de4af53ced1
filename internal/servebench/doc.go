// Package servebench measures `stakeout serve` against Prometheus
// Alertmanager on the same box, over HTTP, with the same alerts: each
// system is a separate process on loopback, the load comes from
// concurrent HTTP clients, and notifications go to a loopback sink that
// counts what was delivered.
//
// Everything is in the tests. `make bench-serve` runs BenchmarkServe
// (minutes; `make bench` skips it): it installs Alertmanager at a pinned
// version with `go install` into a cache directory, builds (or takes) the
// stakeout CLI, and prints, from one run, alerts/s accepted and delivered
// by each system for one alert per request and for ten, and the ratio.
//
// The two systems are given the same work: 10,000 alerts of one model and
// rule, one per feature, all firing. Both group them into one
// notification: stakeout's alert group (one Slack message, updated with
// the alerts that joined in each update window: 5 seconds by default, and
// Alertmanager's group_interval in a second run), Alertmanager's route
// grouped by model and rule (one webhook call per group_interval with the
// group's alerts). What counts as delivered differs in form, not in
// meaning: an alert is delivered when a notification naming it has
// reached the sink — for Alertmanager, an alert present in a webhook
// payload; for stakeout, the member count the group's Slack message (or
// its latest thread reply) states, as the sink last saw it.
package servebench
