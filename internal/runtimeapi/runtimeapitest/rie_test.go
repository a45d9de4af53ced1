package runtimeapitest_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stakeout-ml/stakeout/internal/runtimeapi"
	"github.com/stakeout-ml/stakeout/internal/runtimeapi/runtimeapitest"
)

// Under AWS's emulator the echo function answers with its input, and an
// init error it reports reaches the invoker as a 502 carrying its document.
func TestEmulatorRunsABootstrapAndReportsItsInitError(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs AWS's Runtime Interface Emulator")
	}
	t.Parallel()
	bin := echo(t)

	t.Run("the response is the function's output", func(t *testing.T) {
		t.Parallel()
		rie := runtimeapitest.StartRIE(t, bin, nil)
		res, err := rie.Invoke(testContext(t), []byte(`{"hello":"world"}`))
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != http.StatusOK || string(res.Body) != `{"hello":"world"}` {
			t.Errorf("Invoke() = %d %s, want 200 {\"hello\":\"world\"}", res.Status, res.Body)
		}
	})

	t.Run("an init error reaches the invoker", func(t *testing.T) {
		t.Parallel()
		rie := runtimeapitest.StartRIE(t, bin, map[string]string{"FAIL_INIT": "1"})
		res, err := rie.Invoke(testContext(t), []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ ErrorMessage, ErrorType string }
		if err := json.Unmarshal(res.Body, &doc); err != nil {
			t.Fatalf("Invoke() body %q: %v", res.Body, err)
		}
		if res.Status != http.StatusBadGateway || doc.ErrorType != runtimeapi.InitErrorType || !strings.Contains(doc.ErrorMessage, "FAIL_INIT=1") {
			t.Errorf("Invoke() = %d %s, want 502 with the %s document echo reported", res.Status, res.Body, runtimeapi.InitErrorType)
		}
	})
}
