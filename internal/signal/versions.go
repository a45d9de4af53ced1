package signal

import (
	"fmt"
	"strconv"
	"time"

	"github.com/stakeout-ml/stakeout/internal/duration"
)

// The detail-types of a model's version timeline: the SageMaker Model
// Registry's package state changes (approval, lifecycle stage) and the
// native event a deploy step sends.
const (
	ModelPackageDetailType    = "SageMaker Model Package State Change"
	VersionDeployedDetailType = "ML Model Version Deployed"
)

// What a VersionChange records.
const (
	ChangeRegistry = "registry" // the registry's approval or lifecycle stage changed
	ChangeDeployed = "deployed" // the version went live in an environment
)

// Approved is the ModelApprovalStatus of an approved model package.
const Approved = "Approved"

// VersionChange is one entry of a model's version timeline. It is not a
// signal: no rule evaluates it; alerts read the timeline to say which
// version was live and which one to roll back to.
type VersionChange struct {
	Model   string    `json:"model"`
	Version string    `json:"version"`
	At      time.Time `json:"at"`
	Change  string    `json:"change"`
	// Approval is the registry's ModelApprovalStatus (Approved, Rejected,
	// PendingManualApproval); Stage and StageStatus its ModelLifeCycle.
	Approval    string `json:"approval,omitempty"`
	Stage       string `json:"stage,omitempty"`
	StageStatus string `json:"stage_status,omitempty"`
	// Environment is where a deployed version went live.
	Environment string         `json:"environment,omitempty"`
	Lineage     map[string]any `json:"lineage,omitempty"`
	// Event is the id of the event that recorded the change.
	Event string `json:"event,omitempty"`
}

// ModelPackageStateChange is the detail of a "SageMaker Model Package
// State Change" event (the fields stakeout reads).
type ModelPackageStateChange struct {
	ModelPackageGroupName string `json:"ModelPackageGroupName"`
	ModelPackageVersion   int64  `json:"ModelPackageVersion"`
	ModelPackageArn       string `json:"ModelPackageArn"`
	ModelApprovalStatus   string `json:"ModelApprovalStatus"`
	ModelLifeCycle        struct {
		Stage       string `json:"Stage"`
		StageStatus string `json:"StageStatus"`
	} `json:"ModelLifeCycle"`
	MetadataProperties struct {
		GeneratedBy string `json:"GeneratedBy"`
	} `json:"MetadataProperties"`
	LastModifiedTime awsTime `json:"LastModifiedTime"`
	CreationTime     awsTime `json:"CreationTime"`
	env              *Envelope
}

func decodeModelPackage(in *Input, env *Envelope) error {
	var p ModelPackageStateChange
	if err := decodeAWSDetail(env, &p); err != nil {
		return err
	}
	if p.ModelPackageGroupName == "" || p.ModelPackageVersion <= 0 {
		return fmt.Errorf("detail: SageMaker model package event has no ModelPackageGroupName or no ModelPackageVersion")
	}
	p.env = env
	in.ModelPackage = &p
	// One change may come as several events: the package, its approval
	// and stage, and when it changed are the change.
	in.Key = fmt.Sprintf("sagemaker-model-package/%s/%d/%s/%s/%s/%d", p.ModelPackageGroupName, p.ModelPackageVersion,
		p.ModelApprovalStatus, p.ModelLifeCycle.Stage, p.ModelLifeCycle.StageStatus, p.LastModifiedTime.t.UnixMilli())
	return nil
}

// Change maps the package's state to its model's timeline: the model whose
// match.model_packages accepts the group name (modelsFor may also accept a
// group named as a model id).
func (p *ModelPackageStateChange) Change(modelsFor ModelsFor) (VersionChange, error) {
	what := fmt.Sprintf("SageMaker model package %s/%d", p.ModelPackageGroupName, p.ModelPackageVersion)
	model, err := oneModel(what, modelsFor, matchName{MatchModelPackage, p.ModelPackageGroupName})
	if err != nil {
		return VersionChange{}, err
	}
	at, err := p.env.observedAt(p.LastModifiedTime, p.CreationTime)
	if err != nil {
		return VersionChange{}, err
	}
	c := VersionChange{Model: model, Version: strconv.FormatInt(p.ModelPackageVersion, 10), At: at, Change: ChangeRegistry,
		Approval: p.ModelApprovalStatus, Stage: p.ModelLifeCycle.Stage, StageStatus: p.ModelLifeCycle.StageStatus, Event: p.env.ID}
	if p.ModelPackageArn != "" || p.MetadataProperties.GeneratedBy != "" {
		c.Lineage = map[string]any{}
		setAny(c.Lineage, "registry_uri", p.ModelPackageArn)
		setAny(c.Lineage, "generated_by", p.MetadataProperties.GeneratedBy)
	}
	return c, c.check(what)
}

// VersionDeployed is the detail of a native "ML Model Version Deployed"
// event (infra/schema/version-deployed.schema.json).
type VersionDeployed struct {
	Model       string         `json:"model"`
	Version     string         `json:"version"`
	Environment string         `json:"environment"`
	DeployedAt  string         `json:"deployed_at"`
	Lineage     map[string]any `json:"lineage"`
	env         *Envelope
}

func decodeVersionDeployed(in *Input, env *Envelope) error {
	var d VersionDeployed
	if err := decodeAWSDetail(env, &d); err != nil {
		return err
	}
	if d.Model == "" || d.Version == "" {
		return fmt.Errorf("detail: %s event needs model and version", VersionDeployedDetailType)
	}
	d.env = env
	in.Deployed = &d
	return nil
}

// MaxDeployedSkew is how far deployed_at may be ahead of the event's time
// (when EventBridge received it): a deploy step reports a deploy done, so
// more than clocks drifting apart is a wrong clock or time zone.
const MaxDeployedSkew = 5 * time.Minute

// Change is the deploy as an entry of its model's timeline. deployed_at
// is bounded as a signal's observed_at is (Earliest, and no later than
// the event's time by more than MaxDeployedSkew); absent, the event's
// time stands for it.
func (d *VersionDeployed) Change() (VersionChange, error) {
	what := fmt.Sprintf("version %s of %s deployed", d.Version, d.Model)
	at, err := d.deployedAt(what)
	if err != nil {
		return VersionChange{}, err
	}
	c := VersionChange{Model: d.Model, Version: d.Version, At: at, Change: ChangeDeployed,
		Environment: d.Environment, Lineage: d.Lineage, Event: d.env.ID}
	return c, c.check(what)
}

func (d *VersionDeployed) deployedAt(what string) (time.Time, error) {
	var sent time.Time // the event's time; zero when it has none
	if d.env.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, d.env.Time)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s: the event's time %q is not an RFC 3339 time", what, d.env.Time)
		}
		sent = t
	}
	if d.DeployedAt == "" {
		if sent.IsZero() {
			return time.Time{}, &FieldError{Field: "deployed_at", Msg: what + ": no deployed_at, and the event has no time to take for it"}
		}
		return sent, nil
	}
	at, err := time.Parse(time.RFC3339Nano, d.DeployedAt)
	switch {
	case err != nil:
		return time.Time{}, &FieldError{Field: "deployed_at", Msg: fmt.Sprintf("%s: %q is not an RFC 3339 time", what, d.DeployedAt)}
	case at.Before(Earliest):
		return time.Time{}, &FieldError{Field: "deployed_at", Err: ErrTooEarly, Msg: fmt.Sprintf(
			"%s: %s is before %s, the earliest time stakeout accepts: the deploy step sent a zero or unset time",
			what, at.Format(time.RFC3339Nano), Earliest.Format(time.RFC3339))}
	case !sent.IsZero() && at.After(sent.Add(MaxDeployedSkew)):
		return time.Time{}, &FieldError{Field: "deployed_at", Err: ErrFuture, Msg: fmt.Sprintf(
			"%s: %s is %s after the event was sent (%s; more than the %s allowed): the deploy step's clock or time zone is wrong",
			what, at.UTC().Format(time.RFC3339), duration.Format(at.Sub(sent).Round(time.Minute)), sent.UTC().Format(time.RFC3339),
			duration.Format(MaxDeployedSkew))}
	}
	return at, nil
}

// check bounds what the change stores, as Event.Check bounds an event.
func (c *VersionChange) check(what string) error {
	for _, s := range []string{c.Version, c.Environment, c.Approval, c.Stage, c.StageStatus} {
		if len(s) > MaxVersionField {
			return fmt.Errorf("%s: a field is over %d bytes", what, MaxVersionField)
		}
	}
	return nil
}

// MaxVersionField bounds each name a VersionChange keeps.
const MaxVersionField = 200

// VersionChange returns the timeline entry of a version event (ok false
// for any other input).
func (in Input) VersionChange(modelsFor ModelsFor) (c VersionChange, ok bool, err error) {
	switch {
	case in.ModelPackage != nil:
		c, err = in.ModelPackage.Change(modelsFor)
	case in.Deployed != nil:
		c, err = in.Deployed.Change()
	default:
		return VersionChange{}, false, nil
	}
	return c, true, err
}

// TrainedThrough is the lineage's trained_through ("" when absent).
func (c *VersionChange) TrainedThrough() string {
	s, _ := c.Lineage["trained_through"].(string)
	return s
}

func setAny(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}
