package shared_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/tetherkit/tether/shared"

	"github.com/tetherkit/tether/internal/testmsg"
)

func TestDecodeEnvelope(t *testing.T) {
	tests := []struct {
		name    string
		frame   string
		want    shared.Envelope
		wantErr error
		field   string
	}{
		{name: "minimal", frame: `{"type":"ping"}`, want: shared.Envelope{Type: "ping"}},
		{name: "full", frame: `{"type":"chat.message","id":7,"room":"lobby","seq":3,"data":{"text":"hi"}}`,
			want: shared.Envelope{Type: "chat.message", ID: 7, Room: "lobby", Seq: 3, Data: json.RawMessage(`{"text":"hi"}`)}},
		{name: "null data", frame: `{"type":"ping","data":null}`, want: shared.Envelope{Type: "ping", Data: json.RawMessage(`null`)}},
		{name: "not json", frame: `hello`, wantErr: shared.ErrMalformed},
		{name: "empty", frame: ``, wantErr: shared.ErrMalformed},
		{name: "array", frame: `[1,2]`, wantErr: shared.ErrMalformed},
		{name: "no type", frame: `{"id":1}`, wantErr: shared.ErrMalformed, field: "type"},
		{name: "upper case type", frame: `{"type":"Chat"}`, wantErr: shared.ErrMalformed, field: "type"},
		{name: "type too long", frame: `{"type":"` + strings.Repeat("a", 65) + `"}`, wantErr: shared.ErrMalformed, field: "type"},
		{name: "data not object: left to Decode", frame: `{"type":"ping","data":[1]}`, want: shared.Envelope{Type: "ping", Data: json.RawMessage(`[1]`)}},
		{name: "negative id", frame: `{"type":"ping","id":-1}`, wantErr: shared.ErrMalformed, field: "id"},
		{name: "type wrong json type", frame: `{"type":5}`, wantErr: shared.ErrMalformed, field: "type"},
		{name: "type twice", frame: `{"type":"ping","type":"join","data":{"room":"r"}}`, wantErr: shared.ErrMalformed, field: "type"},
		{name: "id twice", frame: `{"id":1,"type":"ping","id":2}`, wantErr: shared.ErrMalformed, field: "id"},
		{name: "data twice", frame: `{"type":"join","data":{"room":"a"},"data":{"room":"b"}}`, wantErr: shared.ErrMalformed, field: "data"},
		{name: "same key in data and envelope is fine", frame: `{"type":"join","room":"a","data":{"room":"a"}}`,
			want: shared.Envelope{Type: "join", Room: "a", Data: json.RawMessage(`{"room":"a"}`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := shared.DecodeEnvelope([]byte(tt.frame))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("DecodeEnvelope(%q) error = %v, want %v", tt.frame, err, tt.wantErr)
				}
				var de *shared.DecodeError
				if !errors.As(err, &de) || de.Field != tt.field {
					t.Fatalf("DecodeEnvelope(%q) field = %+v, want %q", tt.frame, de, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeEnvelope(%q): %v", tt.frame, err)
			}
			if got.Type != tt.want.Type || got.ID != tt.want.ID || got.Room != tt.want.Room ||
				got.Seq != tt.want.Seq || string(got.Data) != string(tt.want.Data) {
				t.Fatalf("DecodeEnvelope(%q) = %+v, want %+v", tt.frame, got, tt.want)
			}
		})
	}
}

func TestRegistryDecode(t *testing.T) {
	reg := testmsg.NewRegistry()
	tests := []struct {
		name    string
		frame   string
		want    shared.Message
		wantErr error
		field   string
	}{
		{name: "chat send", frame: `{"type":"chat.send","id":1,"data":{"room":"lobby","text":"hi"}}`,
			want: testmsg.ChatSend{Room: "lobby", Text: "hi"}},
		{name: "ping without data", frame: `{"type":"ping","id":2}`, want: shared.Ping{}},
		{name: "join with resume", frame: `{"type":"join","data":{"room":"r","since":0,"epoch":"e"}}`,
			want: shared.Join{Room: "r", Since: new(uint64), Epoch: "e"}},
		{name: "unknown type", frame: `{"type":"nope.nope"}`, wantErr: shared.ErrUnknownType},
		{name: "unknown field", frame: `{"type":"chat.send","data":{"room":"r","text":"x","extra":1}}`,
			wantErr: shared.ErrBadData, field: "data.extra"},
		{name: "wrong json type", frame: `{"type":"ticker.quote","data":{"symbol":"A","price":"high"}}`,
			wantErr: shared.ErrBadData, field: "data.price"},
		{name: "validation: missing text", frame: `{"type":"chat.send","data":{"room":"r"}}`,
			wantErr: shared.ErrBadData, field: "data.text"},
		{name: "validation: bad room", frame: `{"type":"join","data":{"room":"a b"}}`,
			wantErr: shared.ErrBadData, field: "data.room"},
		{name: "validation: bad level", frame: `{"type":"notification","data":{"title":"t","level":"loud"}}`,
			wantErr: shared.ErrBadData, field: "data.level"},
		{name: "validation: bad colour", frame: `{"type":"danmaku.send","data":{"room":"r","text":"x","color":"red"}}`,
			wantErr: shared.ErrBadData, field: "data.color"},
		{name: "data is an array", frame: `{"type":"ping","data":[]}`, wantErr: shared.ErrBadData, field: "data"},
		{name: "data is a string", frame: `{"type":"chat.send","id":3,"data":"hi"}`, wantErr: shared.ErrBadData, field: "data"},
		{name: "room twice in data", frame: `{"type":"join","id":4,"data":{"room":"a","room":"b"}}`, wantErr: shared.ErrBadData, field: "data.room"},
		{name: "key twice in nested data", frame: `{"type":"joined","data":{"room":"a","members":[{"user":"x","user":"y"}]}}`,
			wantErr: shared.ErrBadData, field: "data.members.user"},
		{name: "2000 Chinese characters", frame: `{"type":"chat.send","data":{"room":"r","text":"` + strings.Repeat("汉", 2000) + `"}}`,
			want: testmsg.ChatSend{Room: "r", Text: strings.Repeat("汉", 2000)}},
		{name: "2001 characters", frame: `{"type":"chat.send","data":{"room":"r","text":"` + strings.Repeat("a", 2001) + `"}}`,
			wantErr: shared.ErrBadData, field: "data.text"},
		{name: "100 Chinese characters of danmaku", frame: `{"type":"danmaku.send","data":{"room":"r","text":"` + strings.Repeat("弹", 100) + `"}}`,
			want: testmsg.DanmakuSend{Room: "r", Text: strings.Repeat("弹", 100)}},
		{name: "101 characters of danmaku", frame: `{"type":"danmaku.send","data":{"room":"r","text":"` + strings.Repeat("弹", 101) + `"}}`,
			wantErr: shared.ErrBadData, field: "data.text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := shared.DecodeEnvelope([]byte(tt.frame))
			if err != nil {
				t.Fatalf("DecodeEnvelope: %v", err)
			}
			got, err := reg.Decode(env)
			if tt.wantErr != nil {
				var de *shared.DecodeError
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &de) || de.Field != tt.field {
					t.Fatalf("Decode(%s) = %v (field %q), want %v field %q", tt.frame, err, fieldOf(err), tt.wantErr, tt.field)
				}
				if de.ID != env.ID {
					t.Fatalf("DecodeError.ID = %d, want %d", de.ID, env.ID)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%s): %v", tt.frame, err)
			}
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(tt.want)
			if string(gotJSON) != string(wantJSON) || got.MessageType() != tt.want.MessageType() {
				t.Fatalf("Decode(%s) = %T %s, want %T %s", tt.frame, got, gotJSON, tt.want, wantJSON)
			}
		})
	}
}

func fieldOf(err error) string {
	var de *shared.DecodeError
	if errors.As(err, &de) {
		return de.Field
	}
	return ""
}

// TestRoundTrip checks that every registered type encodes and decodes to the
// same value, so both ends of the wire agree.
func TestRoundTrip(t *testing.T) {
	since := uint64(41)
	msgs := []shared.Message{
		shared.Welcome{Conn: "c1", User: "u", Name: "U", HeartbeatMS: 25000},
		shared.Join{Room: "lobby", Since: &since, Epoch: "e1", History: 5},
		shared.Joined{Room: "lobby", Epoch: "e1", Seq: 42, Recovered: true, Replayed: 1, Members: []shared.Member{{User: "u"}}},
		testmsg.ChatMessage{Room: "lobby", User: "u", Text: "héllo ✓", Time: 1},
		testmsg.Notification{Title: "t", Body: "b", Level: "warning"},
		testmsg.TickerQuote{Symbol: "ACME", Price: 101.25, Change: -0.5, Time: 2},
		testmsg.DanmakuComment{Room: "s", User: "u", Text: "wow", Color: "#ff0066", Lane: 3},
		shared.Error{Code: shared.CodeBadData, Message: "m", Field: "data.text"},
		shared.Kicked{Reason: "bye"},
	}
	reg := testmsg.NewRegistry()
	for _, m := range msgs {
		t.Run(m.MessageType(), func(t *testing.T) {
			frame, err := shared.Encode(shared.Envelope{ID: 9, Room: "lobby", Seq: 4}, m)
			if err != nil {
				t.Fatal(err)
			}
			env, err := shared.DecodeEnvelope(frame)
			if err != nil {
				t.Fatalf("decode %s: %v", frame, err)
			}
			if env.ID != 9 || env.Room != "lobby" || env.Seq != 4 || env.Type != m.MessageType() {
				t.Fatalf("envelope = %+v", env)
			}
			got, err := reg.Decode(env)
			if err != nil {
				t.Fatalf("decode data %s: %v", frame, err)
			}
			a, _ := json.Marshal(got)
			b, _ := json.Marshal(m)
			if string(a) != string(b) {
				t.Fatalf("round trip = %s, want %s", a, b)
			}
		})
	}
}

func TestUnmarshal(t *testing.T) {
	env := shared.Envelope{Type: "notification", Data: json.RawMessage(`{"title":"hi"}`)}
	n, err := shared.Unmarshal[testmsg.Notification](env)
	if err != nil || n.Title != "hi" {
		t.Fatalf("Unmarshal = %+v, %v", n, err)
	}
	if _, err := shared.Unmarshal[testmsg.ChatMessage](env); !errors.Is(err, shared.ErrUnknownType) {
		t.Fatalf("Unmarshal into wrong type: err = %v, want ErrUnknownType", err)
	}
}

func TestUnmarshalFrame(t *testing.T) {
	tests := []struct {
		frame   string
		wantErr error
	}{
		{`{"type":"kicked","id":3,"data":{"reason":"bye"}}`, nil},
		{`{"type":"kicked"`, shared.ErrMalformed},
		{`{"type":"welcome","data":{}}`, shared.ErrUnknownType},
		{`{"type":"kicked","data":{"reason":5}}`, shared.ErrBadData},
	}
	for _, tt := range tests {
		k, env, err := shared.UnmarshalFrame[shared.Kicked]([]byte(tt.frame))
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("UnmarshalFrame(%s) error = %v, want %v", tt.frame, err, tt.wantErr)
			}
			continue
		}
		if err != nil || k.Reason != "bye" || env.ID != 3 {
			t.Errorf("UnmarshalFrame(%s) = %+v, %+v, %v", tt.frame, k, env, err)
		}
	}
}

type badName struct{}

func (badName) MessageType() string { return "Bad Name" }

type dupPing struct{}

func (dupPing) MessageType() string { return "ping" }

func TestRegisterPanicsOnProgrammingErrors(t *testing.T) {
	tests := []struct {
		name string
		reg  func(r *shared.Registry)
	}{
		{"invalid name", func(r *shared.Registry) { shared.Register[badName](r) }},
		{"duplicate name", func(r *shared.Registry) { shared.Register[dupPing](r) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Register did not panic")
				}
			}()
			tt.reg(testmsg.NewRegistry())
		})
	}
}

func TestRegistryTypes(t *testing.T) {
	types := testmsg.NewRegistry().Types()
	for _, want := range []string{"welcome", "join", "joined", "presence.list", "error", "kicked", "chat.message", "ticker.quote", "danmaku.comment"} {
		found := false
		for _, got := range types {
			found = found || got == want
		}
		if !found {
			t.Errorf("registry lacks %q; has %v", want, types)
		}
	}
}

// TestBuildsForWasm checks the contract compiles for the browser.
func TestBuildsForWasm(t *testing.T) {
	if testing.Short() {
		t.Skip("builds with the go tool")
	}
	// go test puts its own Go first in PATH.
	cmd := exec.Command("go", "build", "./...")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go build ./shared/...: %v\n%s", err, out)
	}
}

// TestImportsOnlyStdlib keeps the contract free of dependencies.
func TestImportsOnlyStdlib(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/tetherkit/tether/shared" {
			t.Errorf("shared imports non-standard package %s", p)
		}
	}
}

func TestJSONField(t *testing.T) {
	type inner struct {
		N int `json:"n"`
	}
	type outer struct {
		In inner `json:"in"`
	}
	tests := []struct{ body, want string }{
		{`{"in":{"n":"x"}}`, "in.n"},
		{`{"extra":1}`, "extra"},
		{`{`, ""},
	}
	for _, tt := range tests {
		dec := json.NewDecoder(strings.NewReader(tt.body))
		dec.DisallowUnknownFields()
		var o outer
		if got := shared.JSONField(dec.Decode(&o)); got != tt.want {
			t.Errorf("JSONField for %s = %q, want %q", tt.body, got, tt.want)
		}
	}
}

// TestRegistries pins what each registry holds: the protocol's own messages
// in NewRegistry (the nil default of every Config), and an app's on top of
// them once it registers its types.
func TestRegistries(t *testing.T) {
	sys := shared.NewRegistry()
	own := []string{"chat.message", "chat.send", "danmaku.comment", "danmaku.send", "dice.roll", "dice.rolled", "notification", "ticker.quote", "chat.typing"}
	for _, typ := range own {
		if sys.Known(typ) {
			t.Errorf("NewRegistry knows the app type %q", typ)
		}
	}
	for _, typ := range []string{"hello", "welcome", "join", "joined", "leave", "left", "error", "ping", "pong", "reply", "kicked", "presence.list"} {
		if !sys.Known(typ) {
			t.Errorf("NewRegistry does not know the system message %q", typ)
		}
	}
	full := testmsg.NewRegistry()
	if got, want := len(full.Types()), len(sys.Types())+len(own); got != want {
		t.Errorf("the app's registry has %d types, want %d (system %d + own %d): %v", got, want, len(sys.Types()), len(own), full.Types())
	}
	for _, typ := range append(sys.Types(), own...) {
		if !full.Known(typ) {
			t.Errorf("the app's registry does not know %q", typ)
		}
	}
}

func TestDuplicateKey(t *testing.T) {
	tests := []struct {
		json     string
		maxDepth int
		want     string // the path reported; "" for none
	}{
		{`{"a":1,"b":2}`, 0, ""},
		{`{"a":1,"a":2}`, 0, "a"},
		{`{"a":{"b":1,"b":2}}`, 0, "a.b"},
		{`{"a":{"b":1,"b":2}}`, 1, ""}, // nested keys not looked at
		{`{"a":{"b":1},"a":{"b":1}}`, 1, "a"},
		{`{"a":[{"x":1},{"x":2}]}`, 0, ""}, // one key per object
		{`{"a":[{"x":1,"x":2}]}`, 0, "a.x"},
		{`{"a":{"b":1},"c":{"b":1}}`, 0, ""},
		{`{"a":"b","b":"a"}`, 0, ""}, // values are not keys
		{`{"a":[1,"a",{"a":1}],"b":{}}`, 0, ""},
		{`{"":1,"":2}`, 0, `""`}, // the empty key, twice
		{`[{"k":1,"k":2}]`, 0, "k"},
		{`{"k":1,"k":`, 0, "k"},   // found before the syntax error
		{`{"k":1,,"k":2}`, 0, ""}, // not JSON: the decoder says so
		{`not json`, 0, ""},
		{`{"n":1e999,"n":2}`, 0, "n"},                     // numbers are not converted
		{`{"type":"ping","\u0074ype":"join"}`, 0, "type"}, // the same key, escaped
	}
	// Many keys: past the slice, into the map.
	var b strings.Builder
	b.WriteString(`{`)
	for i := range 40 {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	many := b.String()
	tests = append(tests,
		struct {
			json     string
			maxDepth int
			want     string
		}{many + `"z":0}`, 0, ""},
		struct {
			json     string
			maxDepth int
			want     string
		}{many + `"k3":0}`, 0, "k3"},
	)
	for _, tt := range tests {
		err := shared.DuplicateKey([]byte(tt.json), tt.maxDepth)
		var dk *shared.DuplicateKeyError
		got := ""
		if errors.As(err, &dk) {
			got = dk.Path
			if got == "" {
				got = `""` // the empty key
			}
		} else if err != nil {
			t.Errorf("DuplicateKey(%.40s) = %v, not a *DuplicateKeyError", tt.json, err)
		}
		if got != tt.want {
			t.Errorf("DuplicateKey(%.60s, %d) = %q, want %q", tt.json, tt.maxDepth, got, tt.want)
		}
	}
}

// TestErrorSentences pins the sentences sent back for bad frames: human,
// naming the field once (the error message's field carries it).
func TestErrorSentences(t *testing.T) {
	reg := testmsg.NewRegistry()
	tests := []struct {
		frame string
		want  string
	}{
		{`hello`, "The frame is not valid JSON: invalid character 'h' looking for beginning of value."},
		{`{"type":"ping","type":"join"}`, `The key "type" appears twice; send each key once.`},
		{`{"type":"join","data":{"room":"a","room":"b"}}`, `The key "data.room" appears twice; send each key once.`},
		{`{"type":"nope"}`, `There is no message type "nope".`},
		{`{"type":"ping","data":[]}`, "Data must be a JSON object."},
		{`{"type":"chat.send","data":{"room":"r","text":"` + strings.Repeat("x", 2001) + `"}}`, "Text is longer than 2000 characters."},
		{`{"type":"dice.roll","data":{"room":"r","sides":1}}`, "Sides must be from 2 to 100."},
		{`{"type":"dice.roll","data":{"room":"r","sides":"six"}}`, "data.sides must be a whole number, not a string."},
		{`{"type":"dice.roll","data":{"room":"r","option":1}}`, `There is no field "option" in "dice.roll" messages.`},
		{`{"type":"ping","id":-1}`, "id must be a whole number of 0 or more, not -1."},
	}
	for _, tt := range tests {
		env, err := shared.DecodeEnvelope([]byte(tt.frame))
		if err == nil {
			_, err = reg.Decode(env)
		}
		var de *shared.DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%.50s: error %v, want a *DecodeError", tt.frame, err)
			continue
		}
		if got := de.Sentence(); got != tt.want {
			t.Errorf("%.50s: Sentence() = %q, want %q", tt.frame, got, tt.want)
		}
		wire := &shared.Error{Code: shared.CodeBadData, Message: de.Sentence(), Field: de.Field}
		if strings.Count(wire.Error(), "(field") > 1 || strings.Count(de.Error(), "(field") > 1 {
			t.Errorf("%.50s: %q / %q name the field more than once", tt.frame, wire.Error(), de.Error())
		}
	}
}

// TestUnknownFieldText pins the encoding/json behaviour that JSONField (and
// the Sentence of an unknown field) rely on: a DisallowUnknownFields decoder
// names an unknown field only in its error text, `json: unknown field "x"`,
// even when it is nested. If a Go release changes that text, this fails
// before the errors lose their field.
func TestUnknownFieldText(t *testing.T) {
	type inner struct {
		N int `json:"n"`
	}
	type outer struct {
		In inner `json:"in"`
	}
	for _, tt := range []struct{ body, field string }{
		{`{"extra":1}`, "extra"},
		{`{"in":{"n":1,"deep":2}}`, "deep"},
	} {
		dec := json.NewDecoder(strings.NewReader(tt.body))
		dec.DisallowUnknownFields()
		var o outer
		err := dec.Decode(&o)
		if want := `json: unknown field "` + tt.field + `"`; err == nil || err.Error() != want {
			t.Fatalf("encoding/json says %v for %s, want the text %s", err, tt.body, want)
		}
		if got := shared.JSONField(err); got != tt.field {
			t.Errorf("JSONField = %q, want %q", got, tt.field)
		}
	}
}
