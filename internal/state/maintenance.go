package state

// WindowPrefix names the schedules that end an alert's silence:
// "window/<alert id>". The router writes one when it silences an alert
// (Alert.SilencedBy); at its Next the escalator opens the alert if it is
// still unresolved, so that a breach a window hid is told when it ends.
const WindowPrefix = "window/"

// WindowSchedule is the name of the schedule ending alert id's silence.
func WindowSchedule(alertID string) string { return WindowPrefix + alertID }
