package shared_test

import (
	"errors"
	"testing"

	"github.com/tetherkit/tether/shared"
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
	} {
		f.Add([]byte(s))
	}
	reg := shared.NewRegistry()
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
