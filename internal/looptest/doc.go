// Package looptest holds the end-to-end tests of stakeout's alert loop:
// the router, the escalator, the Slack and PagerDuty handlers and the
// sender wired together on DynamoDB Local, with test servers that speak
// Slack's, PagerDuty's and EventBridge's wire formats, and a clock the
// tests move. It has no code of its own.
package looptest
