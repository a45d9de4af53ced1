package notifytest

import "testing"

// SlackGoLoses finds what slack-go does not model — a member it drops, a
// zero value it omits, a block type it does not know — and takes the
// members slack.Msg always writes as no loss.
func TestSlackGoLoses(t *testing.T) {
	for wire, lost := range map[string]bool{
		`{"text":"a","blocks":[{"type":"section","text":{"type":"plain_text","text":"b"}}]}`:                         false,
		`{"text":"a","blocks":[{"type":"section","text":{"type":"plain_text","text":"b"}}],"replace_original":true}`: false,
		`{"response_type":"ephemeral","text":"a"}`:                                                                   false,
		`{"text":"a","blocks":[{"type":"section","text":{"type":"plain_text","text":"b"},"colour":"red"}]}`:          true,
		`{"text":"a","blocks":[{"type":"section","text":{"type":"plain_text","text":"b","verbatim":false}}]}`:        true,
		`{"text":"a","blocks":[{"type":"no_such_block","text":"b"}]}`:                                                true,
		`{"text":"a","unfurl_links":false}`:                                                                          true,
	} {
		diff, err := SlackGoLoses([]byte(wire))
		if err != nil || (diff != "") != lost {
			t.Errorf("SlackGoLoses(%s) = %q, %v; want a loss: %v", wire, diff, err, lost)
		}
	}
	if _, err := SlackGoLoses([]byte(`{"text":1}`)); err == nil {
		t.Error("SlackGoLoses of a number for text: no error")
	}
}
