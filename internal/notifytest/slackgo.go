package notifytest

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/google/go-cmp/cmp"
	"github.com/slack-go/slack"
)

// SlackGoLoses reads wire, a message as sent to Slack (chat.postMessage's
// text, blocks and metadata as one JSON object, or a response_url or slash
// command answer), into slack-go's slack.Msg, writes that again and
// returns what did not survive: the difference of the two as JSON values,
// "" if none. slack-go models Slack's message schema, so a member it drops
// or changes is one Slack does not know either. Members slack.Msg always
// writes (replace_original: false, an empty metadata) are no loss when wire
// lacks them. A block of a type slack-go does not know is reported too: it
// keeps such a block's JSON whole, so the round trip alone would not show
// it. The error is for wire slack-go cannot read at all.
func SlackGoLoses(wire []byte) (string, error) {
	var msg slack.Msg
	if err := json.Unmarshal(wire, &msg); err != nil {
		return "", fmt.Errorf("slack-go cannot read %s: %w", wire, err)
	}
	for i, b := range msg.Blocks.BlockSet {
		if _, unknown := b.(*slack.UnknownBlock); unknown {
			return fmt.Sprintf("block %d: type %q is unknown to slack-go", i, b.BlockType()), nil
		}
	}
	back, err := json.Marshal(msg)
	if err != nil {
		return "", fmt.Errorf("slack-go cannot write what it read from %s: %w", wire, err)
	}
	var sent, got any
	if err := json.Unmarshal(wire, &sent); err != nil {
		return "", err
	}
	if err := json.Unmarshal(back, &got); err != nil {
		return "", err
	}
	dropAddedZeros(got, sent)
	if reflect.DeepEqual(sent, got) {
		return "", nil // cmp.Diff alone takes milliseconds: too slow for fuzzing
	}
	return cmp.Diff(sent, got), nil
}

// dropAddedZeros removes from got, recursively, the object members that
// sent does not have and whose values are zero (false, "", 0, null, empty).
func dropAddedZeros(got, sent any) {
	switch g := got.(type) {
	case map[string]any:
		s, _ := sent.(map[string]any)
		for k, v := range g {
			if sv, ok := s[k]; ok {
				dropAddedZeros(v, sv)
			} else if zeroJSON(v) {
				delete(g, k)
			}
		}
	case []any:
		s, _ := sent.([]any)
		for i := range min(len(g), len(s)) {
			dropAddedZeros(g[i], s[i])
		}
	}
}

// zeroJSON reports whether a decoded JSON value is a zero: false, "", 0,
// null, an empty array, or an object of zeros.
func zeroJSON(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case string:
		return v == ""
	case float64:
		return v == 0
	case []any:
		return len(v) == 0
	case map[string]any:
		for _, m := range v {
			if !zeroJSON(m) {
				return false
			}
		}
		return true
	}
	return false
}
