package msg

import (
	"errors"
	"reflect"
	"testing"

	"github.com/tetherkit/tether/shared"
)

func TestVoteValidate(t *testing.T) {
	for _, tt := range []struct {
		option string
		ok     bool
	}{{"Go", true}, {"", false}, {"  ", false}} {
		err := Vote{Option: tt.option}.Validate()
		var fe *shared.FieldError
		if tt.ok != (err == nil) || (!tt.ok && (!errors.As(err, &fe) || fe.Field != "option")) {
			t.Errorf("Vote{%q}.Validate() = %v, want ok=%v (a FieldError on option otherwise)", tt.option, err, tt.ok)
		}
	}
}

func TestTallyCounts(t *testing.T) {
	tl := Tally{Options: []Option{{"Go", 2}, {"Rust", 1}}}
	if tl.Votes("Go") != 2 || tl.Votes("Zig") != 0 || tl.Total() != 3 {
		t.Fatalf("Votes(Go)=%d Votes(Zig)=%d Total=%d, want 2 0 3", tl.Votes("Go"), tl.Votes("Zig"), tl.Total())
	}
}

// TestMapNames: the map's name and key are ones the kit accepts (§11).
func TestMapNames(t *testing.T) {
	if err := shared.ValidMapName(Map); err != nil {
		t.Errorf("map name %q: %v", Map, err)
	}
	if err := shared.ValidMapKey(TallyKey); err != nil {
		t.Errorf("map key %q: %v", TallyKey, err)
	}
}

// TestWireRoundTrip: every message survives the envelope both sides use.
func TestWireRoundTrip(t *testing.T) {
	reg := NewRegistry()
	for _, in := range []shared.Message{
		Vote{Option: "Go"},
		Look{},
		Ballot{Mine: "Go", Round: 1},
	} {
		frame, err := shared.Encode(shared.Envelope{}, in)
		if err != nil {
			t.Fatal(err)
		}
		env, err := shared.DecodeEnvelope(frame)
		if err != nil {
			t.Fatal(err)
		}
		out, err := reg.Decode(env)
		if err != nil || !reflect.DeepEqual(out, in) {
			t.Errorf("%T: decoded %#v, %v; want %#v", in, out, err, in)
		}
	}
}
