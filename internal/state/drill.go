package state

// DrillModel is the model of fire drills' alerts: a drill is an alert of
// this model whose rule is the owner drilled ("stakeout:drill/credit-ds").
// The colon keeps it apart from every model a rules file can name, so a
// drill never mixes with a real model's alerts, noise or inhibitors, and
// one model's records list every drill.
const DrillModel = "stakeout:drill"

// IsDrill reports whether a model (of an alert, group or notification) is
// the fire drills'.
func IsDrill(model string) bool { return model == DrillModel }
