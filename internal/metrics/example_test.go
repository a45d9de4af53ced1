package metrics_test

import (
	"fmt"
	"os"
	"time"

	"github.com/stakeout-ml/stakeout/internal/metrics"
)

// One invocation of the router: two alerts opened for one model, three
// events routed, two routing latencies. Each dimension set is one line.
func Example() {
	now := func() time.Time { return time.Date(2026, 3, 9, 6, 5, 0, 0, time.UTC) }
	rec := metrics.New(os.Stdout, "Stakeout", now).With(map[string]string{"Function": "router"})

	rec.Count("AlertsOpened", 1, "Model", "credit-approval", "Owner", "credit-ds")
	rec.Count("AlertsOpened", 1, "Owner", "credit-ds", "Model", "credit-approval")
	rec.Count("EventsRouted", 3)
	rec.Milliseconds("RouteLatency", 12500*time.Microsecond)
	rec.Milliseconds("RouteLatency", 8*time.Millisecond)

	if err := rec.Flush(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {"EventsRouted":3,"Function":"router","RouteLatency":[12.5,8],"_aws":{"CloudWatchMetrics":[{"Dimensions":[["Function"]],"Metrics":[{"Name":"EventsRouted","Unit":"Count"},{"Name":"RouteLatency","Unit":"Milliseconds"}],"Namespace":"Stakeout"}],"Timestamp":1773036300000}}
	// {"AlertsOpened":2,"Function":"router","Model":"credit-approval","Owner":"credit-ds","_aws":{"CloudWatchMetrics":[{"Dimensions":[["Function","Model","Owner"]],"Metrics":[{"Name":"AlertsOpened","Unit":"Count"}],"Namespace":"Stakeout"}],"Timestamp":1773036300000}}
}
