package signal

import (
	"fmt"
	"slices"
	"strings"
)

// MatchKind names what an external event is matched on: a key of a model
// file's match block, whose globs accept names of that kind.
type MatchKind string

// The kinds of names external events are matched on.
const (
	MatchAlarm         MatchKind = "cloudwatch_alarms" // CloudWatch alarm names
	MatchProcessingJob MatchKind = "processing_jobs"   // SageMaker processing job and monitoring schedule names
	MatchGlueRuleset   MatchKind = "glue_rulesets"     // Glue Data Quality ruleset names
	MatchGlueTable     MatchKind = "glue_tables"       // Glue Data Catalog tables, as database.table
	MatchStateMachine  MatchKind = "state_machines"    // Step Functions state machine names
	MatchModelPackage  MatchKind = "model_packages"    // SageMaker Model Registry package group names
)

// MatchKinds are every MatchKind, in the order a model file lists them.
var MatchKinds = []MatchKind{MatchAlarm, MatchProcessingJob, MatchGlueRuleset, MatchGlueTable, MatchStateMachine, MatchModelPackage}

// ModelsFor returns the models whose match globs of kind accept name
// (sorted). Every adapter maps its event to a model through it.
type ModelsFor func(kind MatchKind, name string) []string

// matchName is one name an event offers for matching.
type matchName struct {
	kind MatchKind
	name string
}

func (n matchName) String() string { return fmt.Sprintf("%s %q", n.kind, n.name) }

// oneModel is the one model that the names of an AWS service event (what)
// match. None is an *Ignored: the rules that deliver these events see every
// processing job, Glue result, state machine and model package of the
// account, most of them not an ML monitor's, so an unmatched one is no
// fault. Several models is one (of the configuration): an error, for the
// quarantine. Both name the event and every name tried, so that whoever
// reads them knows which glob to add or narrow.
func oneModel(what string, modelsFor ModelsFor, names ...matchName) (string, error) {
	var models, tried []string
	for _, n := range names {
		if n.name == "" {
			continue
		}
		tried = append(tried, n.String())
		for _, m := range modelsFor(n.kind, n.name) {
			if !slices.Contains(models, m) {
				models = append(models, m)
			}
		}
	}
	slices.Sort(models)
	switch {
	case len(tried) == 0:
		return "", fmt.Errorf("%s names nothing a model's match could accept", what)
	case len(models) == 0:
		return "", &Ignored{Reason: fmt.Sprintf("%s matches no model (tried %s): not one this configuration watches; to route it, add one of them to a model's match", what, strings.Join(tried, ", "))}
	case len(models) > 1:
		return "", fmt.Errorf("%s matches several models (%s; tried %s): make their match globs disjoint", what, strings.Join(models, ", "), strings.Join(tried, ", "))
	}
	return models[0], nil
}
