package shared

import (
	"errors"
	"strings"
	"testing"
)

func TestMapNamesAndKeys(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		field     string // "" when valid
	}{
		{"board", "alice", ""},
		{"board-2_x", "a/b=c.d-e_f", ""},
		{"", "k", "map"},
		{"bo ard", "k", "map"},
		{"board.x", "k", "map"},
		{strings.Repeat("m", MaxMapNameLen+1), "k", "map"},
		{"board", "", "key"},
		{"board", ".a", "key"},
		{"board", "a.", "key"},
		{"board", "a..b", "key"},
		{"board", "a b", "key"},
		{"board", "a*", "key"},
		{"board", strings.Repeat("k", MaxMapKeyLen+1), "key"},
	} {
		err := MapDelete{Map: tc.name, Key: tc.key}.Validate()
		var fe *FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("map %q key %q refused: %v", tc.name, tc.key, err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
			t.Errorf("map %q key %q: got %v, want an error on field %q", tc.name, tc.key, err, tc.field)
		}
	}
}

func TestMapMessagesDecode(t *testing.T) {
	r := NewRegistry()
	for _, tc := range []struct {
		frame string
		field string // "" when valid
	}{
		{`{"type":"map.sub","id":1,"data":{"map":"board"}}`, ""},
		{`{"type":"map.sub","id":1,"data":{"map":"board","epoch":"e","rev":3}}`, ""},
		{`{"type":"map.sub","id":1,"data":{"map":"board","rev":3}}`, "data.rev"},
		{`{"type":"map.set","id":1,"data":{"map":"board","key":"k","value":{"a":1},"if_rev":0,"ttl_ms":1000}}`, ""},
		{`{"type":"map.set","id":1,"data":{"map":"board","key":"k"}}`, "data.value"},
		{`{"type":"map.set","id":1,"data":{"map":"board","key":"k","value":1,"ttl_ms":-1}}`, "data.ttl_ms"},
		{`{"type":"map.set","id":1,"data":{"map":"board","key":"k","value":{"a":1,"a":2}}}`, "data.value.a"},
		{`{"type":"map.delete","id":1,"data":{"map":"board","key":"k","if_rev":7}}`, ""},
		{`{"type":"map.unsub","id":1,"data":{"map":""}}`, "data.map"},
	} {
		env, err := DecodeEnvelope([]byte(tc.frame))
		if err != nil {
			t.Fatalf("%s: %v", tc.frame, err)
		}
		_, err = r.Decode(env)
		var de *DecodeError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s refused: %v", tc.frame, err)
		case tc.field != "" && (!errors.As(err, &de) || de.Field != tc.field):
			t.Errorf("%s: got %v, want bad_data on %s", tc.frame, err, tc.field)
		}
	}
	m, err := r.Decode(mustEnv(t, `{"type":"map.set","data":{"map":"b","key":"k","value":null,"if_rev":0}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s := m.(MapSet); s.IfRev == nil || *s.IfRev != 0 || string(s.Value) != "null" {
		t.Errorf("if_rev 0 and value null must survive decoding: %+v", s)
	}
}

func mustEnv(t *testing.T, frame string) Envelope {
	t.Helper()
	env, err := DecodeEnvelope([]byte(frame))
	if err != nil {
		t.Fatal(err)
	}
	return env
}
