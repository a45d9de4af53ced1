package audit

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
)

// Sign keys the records one write adds: recs holds, in order, the records
// of one or more alerts' trails, each alert's records following its stored
// head (as Seal chained them). Each record is resealed on a keyed chain
// (Chain 2, Key k's id), and the last record of each alert gets the MAC of
// its hash, which vouches for every record before it: one MAC per alert
// per write, not per record, and the alerts' MACs computed concurrently,
// so a write waits for one round trip to the key whatever it holds.
//
// It returns each alert's new head hash. A nil k leaves the records
// unkeyed (version 1) and returns nil.
func Sign(ctx context.Context, k Signer, recs []Record) (map[string]string, error) {
	if k == nil || len(recs) == 0 {
		return nil, nil
	}
	heads := map[string]string{}
	last := map[string]int{}
	var order []string
	for i := range recs {
		r := &recs[i]
		if h, ok := heads[r.Alert]; ok {
			r.PrevHash = h
		} else {
			order = append(order, r.Alert)
		}
		r.Chain, r.Key, r.MAC = ChainKeyed, k.KeyID(), ""
		r.Hash = r.digest()
		heads[r.Alert], last[r.Alert] = r.Hash, i
	}
	errs := make([]error, len(order))
	var wg sync.WaitGroup
	for n, alert := range order {
		r := &recs[last[alert]]
		mac := func() {
			m, err := k.MAC(ctx, macMessage(r.Hash))
			if err != nil {
				errs[n] = fmt.Errorf("audit key %s: MAC of %s record %d: %w", k.KeyID(), r.Alert, r.Seq, err)
				return
			}
			r.MAC = base64.StdEncoding.EncodeToString(m)
		}
		if len(order) == 1 {
			mac() // the usual write: no goroutine for one call
			continue
		}
		wg.Go(mac)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return heads, nil
}
