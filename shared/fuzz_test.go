package shared_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/tetherkit/tether/shared"

	"github.com/tetherkit/tether/internal/testmsg"
)

// FuzzDecode feeds arbitrary frames to the decoder. It must never panic, must
// fail only with the documented sentinels, and whatever decodes must encode
// again to an envelope that decodes to the same message.
//
//	go test ./shared -run '^$' -fuzz FuzzDecode -fuzztime 60s
//
// Seeds are in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"chat.send","id":1,"data":{"room":"lobby","text":"hi"}}`,
		`{"type":"join","id":2,"data":{"room":"r","since":3,"epoch":"e","history":10}}`,
		`{"type":"ticker.quote","room":"ticker","seq":9,"data":{"symbol":"A","price":1.5,"change":-2,"time":1}}`,
		`{"type":"ping"}`, `{}`, `null`, `{"type":"x","data":[]}`,
		`{"type":"ping","type":"join","data":{"room":"r"}}`,
		`{"type":"join","data":{"room":"a","room":"b"}}`,
		`{"type":"joined","data":{"room":"a","members":[{"user":"x","user":"y"}]}}`,
		`{"type":"chat.send","data":{"room":"r","text":"汉字汉字"}}`,
		`{"type":"ping","data":"x"}`,
	} {
		f.Add([]byte(s))
	}
	reg := testmsg.NewRegistry()
	f.Fuzz(func(t *testing.T, frame []byte) {
		env, err := shared.DecodeEnvelope(frame)
		if err != nil {
			if !errors.Is(err, shared.ErrMalformed) {
				t.Fatalf("DecodeEnvelope error %v is not ErrMalformed", err)
			}
			return
		}
		m, err := reg.Decode(env)
		if err != nil {
			if !errors.Is(err, shared.ErrUnknownType) && !errors.Is(err, shared.ErrBadData) {
				t.Fatalf("Decode error %v is neither ErrUnknownType nor ErrBadData", err)
			}
			var de *shared.DecodeError
			if errors.As(err, &de) && de.Sentence() == "" {
				t.Fatalf("Decode error %v has no sentence", err)
			}
			return
		}
		again, err := shared.Encode(shared.Envelope{ID: env.ID, Room: env.Room, Seq: env.Seq}, m)
		if err != nil {
			t.Fatalf("re-encode %T: %v", m, err)
		}
		env2, err := shared.DecodeEnvelope(again)
		if err != nil {
			t.Fatalf("re-decode %s: %v", again, err)
		}
		if _, err := reg.Decode(env2); err != nil {
			t.Fatalf("re-decoded %s fails: %v", again, err)
		}
	})
}

// FuzzDuplicateKey checks DuplicateKey against encoding/json on arbitrary
// input: it never panics, and for a JSON object without nesting it finds a
// duplicate exactly when decoding into a map loses a key.
//
//	go test ./shared -run '^$' -fuzz FuzzDuplicateKey -fuzztime 60s
func FuzzDuplicateKey(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":1,"b":2}`, `{"a":{"b":1,"b":2}}`, `[{"k":1,"k":2}]`,
		`{"\u0061":1,"a":2}`, `{"a":[1,2,{"a":1}]}`, `{`, `{"a":1,,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := shared.DuplicateKey(data, 0)
		var dk *shared.DuplicateKeyError
		if err != nil && !errors.As(err, &dk) {
			t.Fatalf("DuplicateKey error %v is not a *DuplicateKeyError", err)
		}
		var flat map[string]json.RawMessage
		if json.Unmarshal(data, &flat) != nil {
			return
		}
		for _, v := range flat {
			if len(v) > 0 && (v[0] == '{' || v[0] == '[') {
				return // nested: the count below would not say
			}
		}
		if dup := err != nil; dup != (countKeys(data) > len(flat)) {
			t.Fatalf("DuplicateKey(%s) = %v, but the object has %d keys and %d distinct", data, err, countKeys(data), len(flat))
		}
	})
}

// countKeys counts the keys of a flat JSON object (values are scalars).
func countKeys(data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, wantKey := 0, false
	for {
		tok, err := dec.Token()
		if err != nil {
			return n
		}
		switch {
		case tok == json.Delim('{'):
			wantKey = true
		case tok == json.Delim('}'):
		case wantKey:
			n++
			wantKey = false
		default:
			wantKey = true
		}
	}
}
