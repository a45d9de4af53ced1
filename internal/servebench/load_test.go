package servebench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// The alerts both systems get: churn-prediction's scoring-lag rule
// (rules/churn-prediction.yaml) fires on a single freshness reading over
// 36 h (no for:, no history) at high severity, which the medium stakes
// send to Slack only (no page); every feature is its own series, so every
// event opens its own alert, and all of them join the rule's one group,
// in data-platform's channel (owners/data-platform.yaml).
const (
	benchModel   = "churn-prediction"
	benchRule    = "scoring-lag"
	benchChannel = "C0DATAPLAT"
	benchLag     = 180000 // seconds; the rule fires over 129600
)

// feature names alert i's feature: f00001, f00002 ….
func feature(i int) string { return fmt.Sprintf("f%05d", i+1) }

// request is one HTTP request of the load: its body and how many alerts
// it carries.
type request struct {
	body   []byte
	alerts int
}

// batches cuts n alerts into requests of size alerts each (the last one
// smaller if need be), body building one request's body from the alerts'
// indices.
func batches(n, size int, body func(from, to int) []byte) []request {
	var reqs []request
	for from := 0; from < n; from += size {
		to := min(from+size, n)
		reqs = append(reqs, request{body: body(from, to), alerts: to - from})
	}
	return reqs
}

// sendResult is what the send phase measured.
type sendResult struct {
	accepted, refused int
	elapsed           time.Duration
	firstErr          error
}

// acceptedPerSecond: alerts accepted over the send phase.
func (r sendResult) acceptedPerSecond() float64 { return float64(r.accepted) / r.elapsed.Seconds() }

// answer reads a response and says how many of the request's alerts the
// system accepted, or why it refused them.
type answer func(resp *http.Response, body []byte, alerts int) (accepted int, err error)

// send posts reqs to url from clients concurrent clients, each on its own
// kept-alive connection, as fast as the system answers.
func send(ctx context.Context, url string, header http.Header, reqs []request, clients int, check answer) sendResult {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients, DisableCompression: true}}
	defer client.CloseIdleConnections()
	next := make(chan request)
	var (
		mu  sync.Mutex
		res sendResult
		wg  sync.WaitGroup
	)
	record := func(accepted, alerts int, err error) {
		mu.Lock()
		defer mu.Unlock()
		res.accepted += accepted
		res.refused += alerts - accepted
		if err != nil && res.firstErr == nil {
			res.firstErr = err
		}
	}
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for r := range next {
				accepted, err := post(ctx, client, url, header, r, check)
				record(accepted, r.alerts, err)
			}
		})
	}
	for _, r := range reqs {
		select {
		case next <- r:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

func post(ctx context.Context, client *http.Client, url string, header http.Header, r request, check answer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(r.body))
	if err != nil {
		return 0, err
	}
	req.Header = header.Clone()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("POST %s: reading the answer: %w", url, err)
	}
	return check(resp, body, r.alerts)
}

// waitDelivered polls delivered until it reports want alerts or timeout
// has passed since start, and returns the last count and when it was
// reached (the poll's time: a 50 ms resolution).
func waitDelivered(start time.Time, want int, timeout time.Duration, delivered func() int) (int, time.Duration) {
	var n int
	for {
		n = delivered()
		took := time.Since(start)
		if n >= want || took > timeout {
			return n, took
		}
		time.Sleep(50 * time.Millisecond)
	}
}
