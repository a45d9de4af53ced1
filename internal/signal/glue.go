package signal

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// DataQualityDetailType is the detail-type of AWS Glue Data Quality results.
const DataQualityDetailType = "Data Quality Evaluation Results Available"

// MetricDQScore is the metric of Glue Data Quality signals: the share of
// rules that passed, 0 to 1.
const MetricDQScore = "dq_score"

// DataQualityResult is the detail of a Glue Data Quality "Data Quality
// Evaluation Results Available" event. AWS documents rulesSucceeded… and
// resultID, while its own sample Lambda (and live events) read
// numRulesSucceeded… and resultId: both are read (encoding/json matches
// resultID and resultId alike).
type DataQualityResult struct {
	Context struct {
		ContextType  string `json:"contextType"`
		RunID        string `json:"runId"`
		DatabaseName string `json:"databaseName"`
		TableName    string `json:"tableName"`
		JobName      string `json:"jobName"`
		JobID        string `json:"jobId"`
	} `json:"context"`
	ResultID          string   `json:"resultID"`
	RulesetNames      []string `json:"rulesetNames"`
	State             string   `json:"state"`
	Score             *float64 `json:"score"`
	RulesSucceeded    *int     `json:"rulesSucceeded"`
	RulesFailed       *int     `json:"rulesFailed"`
	RulesSkipped      *int     `json:"rulesSkipped"`
	NumRulesSucceeded *int     `json:"numRulesSucceeded"`
	NumRulesFailed    *int     `json:"numRulesFailed"`
	NumRulesSkipped   *int     `json:"numRulesSkipped"`
	env               *Envelope
}

func decodeDataQuality(in *Input, env *Envelope) error {
	var r DataQualityResult
	if err := decodeAWSDetail(env, &r); err != nil {
		return err
	}
	r.env = env
	in.DataQuality = &r
	return nil
}

// Table is the evaluated Data Catalog table as database.table ("" when a
// Glue job evaluated a frame of its own).
func (r *DataQualityResult) Table() string {
	if r.Context.DatabaseName == "" || r.Context.TableName == "" {
		return ""
	}
	return r.Context.DatabaseName + "." + r.Context.TableName
}

// Signal maps the result to a data_quality signal (metric dq_score, the
// score as value) of the model whose match.glue_rulesets accepts one of
// the rulesets or whose match.glue_tables accepts the table. The feature
// is the table (or the job) and the segment the ruleset(s): one series per
// dataset and ruleset, so that a passing ruleset does not resolve the
// failing alert of another on the same table, nor share its alert.
func (r *DataQualityResult) Signal(modelsFor ModelsFor) (Event, error) {
	what := fmt.Sprintf("Glue Data Quality result %q", r.ResultID)
	names := []matchName{{MatchGlueTable, r.Table()}}
	for _, rs := range r.RulesetNames {
		names = append(names, matchName{MatchGlueRuleset, rs})
	}
	model, err := oneModel(what, modelsFor, names...)
	if err != nil {
		return Event{}, err
	}
	if r.Score == nil {
		return Event{}, fmt.Errorf("%s has no score: nothing to evaluate", what)
	}
	ev := Event{Model: model, Kind: "data_quality", Metric: MetricDQScore, Value: *r.Score,
		Feature: cmp.Or(r.Table(), r.Context.JobName), Segment: r.rulesets(),
		Labels: map[string]string{"source": "glue", "result_id": r.ResultID, "state": r.State}}
	setLabel(ev.Labels, "rulesets", r.rulesets())
	setLabel(ev.Labels, "job_name", r.Context.JobName)
	for label, counts := range map[string][2]*int{
		"rules_succeeded": {r.RulesSucceeded, r.NumRulesSucceeded},
		"rules_failed":    {r.RulesFailed, r.NumRulesFailed},
		"rules_skipped":   {r.RulesSkipped, r.NumRulesSkipped},
	} {
		for _, n := range counts {
			if n != nil {
				ev.Labels[label] = strconv.Itoa(*n)
				break
			}
		}
	}
	if ev.ObservedAt, err = r.env.observedAt(); err != nil {
		return Event{}, err
	}
	if err := ev.Check(); err != nil {
		return Event{}, fmt.Errorf("%s: %w", what, err)
	}
	return ev, nil
}

// rulesets names the result's rulesets, sorted (a run of several is one
// series whatever order AWS lists them in), comma-separated.
func (r *DataQualityResult) rulesets() string {
	names := slices.Clone(r.RulesetNames)
	slices.Sort(names)
	return strings.Join(names, ",")
}
