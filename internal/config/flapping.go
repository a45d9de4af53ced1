package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/stakeout-ml/stakeout/internal/duration"
	"github.com/stakeout-ml/stakeout/internal/expression"
)

// Flapping is when an alert of a rule counts as flapping, and how it ends:
// an alert that opens Opens times within Within is flapping — it stays
// open, its resolution held, and its group's message is updated instead of
// a new one per cycle — until no reading has breached for QuietFor (and
// resolve_after clean readings have been seen). The zero Flapping (Off)
// never marks an alert flapping.
type Flapping struct {
	Opens    int
	Within   time.Duration
	QuietFor time.Duration
}

// On reports whether flapping is detected at all.
func (f Flapping) On() bool { return f.Opens > 0 }

// Describe says what f means, for messages and audit records:
// "opened 3 times in 6h".
func (f Flapping) Describe(opens int) string {
	return fmt.Sprintf("opened %d times in %s", opens, duration.Format(f.Within))
}

// DefaultFlapping applies to every rule whose model and rule say nothing:
// three openings in six hours is a threshold an hourly metric crosses by
// flapping, not a daily one by three separate problems; an hour without a
// breach ends it.
var DefaultFlapping = Flapping{Opens: 3, Within: 6 * time.Hour, QuietFor: time.Hour}

// Bounds of a flapping setting: fewer than two openings would hold every
// alert; more openings than MaxFlapOpens, or windows over MaxFlapWindow,
// would keep a long history on every alert for nothing.
const (
	MinFlapOpens  = 2
	MaxFlapOpens  = 50
	MaxFlapWindow = 7 * 24 * time.Hour
)

// flappingSetting is what a model or rule file said about flapping.
type flappingSetting struct {
	set bool
	f   Flapping
}

// decodeFlapping decodes `flapping:` — `false` (never), or a mapping
// {opens, within, quiet_for} whose missing keys take DefaultFlapping's.
func (d *doc) decodeFlapping(v *yaml.Node) (flappingSetting, bool) {
	v = resolve(v)
	if v.Kind == yaml.ScalarNode && v.Tag == "!!bool" {
		if v.Value != "false" {
			d.errorf(v, "flapping: %s — write false to turn flapping detection off, or a mapping {opens, within, quiet_for}", v.Value)
			return flappingSetting{}, false
		}
		return flappingSetting{set: true}, true
	}
	f, ok := DefaultFlapping, true
	dur := func(name string, into *time.Duration) func(_, v *yaml.Node) {
		return func(_, v *yaml.Node) {
			x, good := d.duration(v, "flapping."+name)
			switch {
			case !good:
				ok = false
			case x <= 0 || x > MaxFlapWindow:
				d.errorf(v, "flapping.%s must be a duration above 0 and at most %s", name, duration.Format(MaxFlapWindow))
				ok = false
			default:
				*into = x
			}
		}
	}
	if !d.mapping(v, "flapping",
		field{name: "opens", decode: func(_, v *yaml.Node) {
			var n int
			if v.Tag != "!!int" || v.Decode(&n) != nil || n < MinFlapOpens || n > MaxFlapOpens {
				d.errorf(v, "flapping.opens must be a whole number of openings from %d to %d", MinFlapOpens, MaxFlapOpens)
				ok = false
				return
			}
			f.Opens = n
		}},
		field{name: "within", decode: dur("within", &f.Within)},
		field{name: "quiet_for", decode: dur("quiet_for", &f.QuietFor)},
	) {
		return flappingSetting{}, false
	}
	return flappingSetting{set: true, f: f}, ok
}

// flappingOf is the flapping a rule gets: its own, else its model's, else
// DefaultFlapping.
func flappingOf(r *Rule, m *Model) Flapping {
	switch {
	case r.flapping.set:
		return r.flapping.f
	case m.flapping.set:
		return m.flapping.f
	}
	return DefaultFlapping
}

// compileResolveWhen compiles a rule's `resolve_when:` like its `when:`:
// while an alert of the rule is open, only a reading on which it holds
// counts as clean (hysteresis: a threshold to resolve below, apart from
// the one to fire above).
func (d *doc) compileResolveWhen(v *yaml.Node, r *Rule, business map[string]float64) {
	r.ResolveWhen = d.compile(v, "resolve_when", expression.Bool, business)
	if r.ResolveWhen != nil && r.ResolveWhen.NeverFires != "" {
		d.errorf(v, "rule %q can never resolve: resolve_when %s", r.Name, r.ResolveWhen.NeverFires)
	}
}
