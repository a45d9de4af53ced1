package audit

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"time"
)

// Broken is a finding: a trail that was altered, cut, or cannot be
// vouched for. Seq is the first record found wrong.
type Broken struct {
	Alert  string
	Seq    int
	Reason string
}

func (b *Broken) Error() string { return fmt.Sprintf("alert %s: %s", b.Alert, b.Reason) }

func broken(r Record, format string, args ...any) *Broken {
	return &Broken{Alert: r.Alert, Seq: r.Seq, Reason: fmt.Sprintf(format, args...)}
}

// Verify checks one alert's records, in Seq order, without a key:
// numbering without gaps, each record's hash, each link to the previous
// record, and the chain versions (a keyed chain never goes back to
// unkeyed). It does not check MACs: see Check. Its errors are *Broken.
func Verify(records []Record) error {
	prev, keyed := "", 0
	for i, r := range records {
		switch {
		case r.Alert != records[0].Alert:
			return broken(r, "record %d is of alert %s, not %s: records of another trail were put in this one", r.Seq, r.Alert, records[0].Alert)
		case r.Seq != i+1:
			return broken(r, "record %d has seq %d: a record is missing or out of order", i+1, r.Seq)
		case r.PrevHash != prev:
			return broken(r, "record %d does not link to record %d (prev_hash differs): the chain was altered", r.Seq, r.Seq-1)
		case r.digest() != r.Hash:
			return broken(r, "record %d (%s at %s) does not match its hash: it was altered", r.Seq, r.Action, r.At.UTC().Format(time.RFC3339))
		case r.Chain < 0 || r.Chain > ChainKeyed:
			return broken(r, "record %d has chain version %d, which this stakeout does not know", r.Seq, r.Chain)
		case r.Chain == ChainKeyed && r.Key == "":
			return broken(r, "record %d is keyed (chain 2) but names no key", r.Seq)
		case r.Chain != ChainKeyed && keyed > 0:
			return broken(r, "record %d is unkeyed (chain 1) after keyed record %d: a keyed chain never goes back to unkeyed, the records were rewritten", r.Seq, keyed)
		case r.Chain != ChainKeyed && r.MAC != "":
			return broken(r, "record %d carries a MAC but is not on a keyed chain", r.Seq)
		}
		if r.Chain == ChainKeyed {
			keyed = r.Seq
		}
		prev = r.Hash
	}
	return nil
}

// Report is what Check found in one alert's intact trail.
type Report struct {
	Alert   string
	Records int
	// Vouched is how many records, from the first, a verified MAC vouches
	// for (the seq of the last record with one); the rest are Unkeyed.
	Vouched int
	// Legacy counts the version 1 records among the vouched: written before
	// chains were keyed, covered by a later MAC.
	Legacy int
	// Keys are the keys whose MACs were checked.
	Keys []string
}

// Unkeyed is how many records no MAC vouches for: anyone who could write
// the table could have rewritten them.
func (r Report) Unkeyed() int { return r.Records - r.Vouched }

// Keys are the keys a verifier trusts, by KeyID: a MAC under any other key
// is a finding, however valid, since whoever wrote it may own that key.
type Keys map[string]Checker

// checkParallel bounds the MAC checks in flight (KMS calls, for a KMS key).
const checkParallel = 8

// Check verifies one alert's trail (Verify) and every MAC on it under the
// trusted keys: each MAC must verify, and every keyed record must be
// followed by a MAC (else the trail was cut, or the MAC removed). A finding
// is a *Broken naming the first record found wrong; any other error means
// a MAC could not be checked (the key unreachable, disabled or deleted).
func Check(ctx context.Context, records []Record, keys Keys) (Report, error) {
	rep := Report{Records: len(records)}
	if len(records) > 0 {
		rep.Alert = records[0].Alert
	}
	if err := Verify(records); err != nil {
		return rep, err
	}
	var macs []int
	lastKeyed := -1
	for i, r := range records {
		if r.MAC != "" {
			macs = append(macs, i)
		}
		if r.Chain == ChainKeyed {
			lastKeyed = i
		}
	}
	if err := checkMACs(ctx, records, macs, keys); err != nil {
		return rep, err
	}
	if lastKeyed >= 0 && (len(macs) == 0 || macs[len(macs)-1] < lastKeyed) {
		from := records[0]
		if len(macs) > 0 {
			from = records[macs[len(macs)-1]+1]
		}
		return rep, broken(from, "records %d-%d are keyed but no MAC vouches for them: the trail was cut after record %d, or its MAC removed",
			from.Seq, records[lastKeyed].Seq, records[lastKeyed].Seq)
	}
	seen := map[string]bool{}
	for _, i := range macs {
		if r := records[i]; !seen[r.Key] {
			seen[r.Key] = true
			rep.Keys = append(rep.Keys, r.Key)
		}
	}
	if len(macs) > 0 {
		rep.Vouched = records[macs[len(macs)-1]].Seq
	}
	for _, r := range records[:rep.Vouched] {
		if r.Chain != ChainKeyed {
			rep.Legacy++
		}
	}
	return rep, nil
}

// checkMACs verifies the MACs of records[at...], concurrently, and returns
// the finding of the lowest record found wrong (where a rewrite starts),
// or else the first error.
func checkMACs(ctx context.Context, records []Record, at []int, keys Keys) error {
	errs := make([]error, len(at))
	sem := make(chan struct{}, checkParallel)
	var wg sync.WaitGroup
	for n, i := range at {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[n] = checkMAC(ctx, records[i], keys)
		})
	}
	wg.Wait()
	var first error
	for _, err := range errs {
		if b, ok := err.(*Broken); ok {
			return b
		}
		if first == nil {
			first = err
		}
	}
	return first
}

func checkMAC(ctx context.Context, r Record, keys Keys) error {
	k, ok := keys[r.Key]
	if !ok {
		return broken(r, "record %d is MACed under key %s, which is not a key given to verify with", r.Seq, r.Key)
	}
	mac, err := base64.StdEncoding.DecodeString(r.MAC)
	if err != nil {
		return broken(r, "record %d: its MAC is not base64: it was altered", r.Seq)
	}
	valid, err := k.VerifyMAC(ctx, macMessage(r.Hash), mac)
	if err != nil {
		return fmt.Errorf("alert %s: record %d: MAC not checked under %s: %w", r.Alert, r.Seq, r.Key, err)
	}
	if !valid {
		return broken(r, "record %d: its MAC does not verify under %s: this record or one before it was rewritten after it was written", r.Seq, r.Key)
	}
	return nil
}
