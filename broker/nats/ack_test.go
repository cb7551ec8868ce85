package natsbroker

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestParseAck reads the usual acks without encoding/json and everything
// else (errors, other field orders, junk) as jetstream's PublishMsg would.
func TestParseAck(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		seq     uint64
		dup     bool
		errCode jetstream.ErrorCode // an API error with this code
		invalid bool                // jetstream.ErrInvalidJSAck
	}{
		{name: "usual", data: `{"stream":"TETHER_ROOMS","seq":42}`, seq: 42},
		{name: "with domain", data: `{"stream":"TETHER_ROOMS","seq":7,"domain":"hub"}`, seq: 7},
		{name: "duplicate", data: `{"stream":"TETHER_ROOMS","seq":9,"duplicate":true}`, seq: 9, dup: true},
		{name: "duplicate as nats-server writes it", data: `{"stream":"TETHER_ROOMS","seq":11,"duplicate": true}`, seq: 11, dup: true},
		{name: "other order", data: `{"seq":5,"stream":"TETHER_ROOMS"}`, seq: 5},
		{name: "max uint64", data: `{"stream":"TETHER_ROOMS","seq":18446744073709551615}`, seq: 18446744073709551615},
		{name: "overflow", data: `{"stream":"TETHER_ROOMS","seq":184467440737095516150}`, invalid: true},
		{name: "wrong last sequence", data: `{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"TETHER_ROOMS","seq":0}`, errCode: jetstream.JSErrCodeStreamWrongLastSequence},
		{name: "wrong last sequence constant", data: `{"error":{"code":400,"err_code":10164,"description":"wrong last sequence"}}`, errCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant},
		{name: "seq zero", data: `{"stream":"TETHER_ROOMS","seq":0}`, invalid: true},
		{name: "no stream", data: `{"seq":3}`, invalid: true},
		{name: "truncated", data: `{"stream":"TETHER_ROOMS","seq":12`, invalid: true},
		{name: "not json", data: `nope`, invalid: true},
		{name: "empty", data: ``, invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq, dup, err := parseAck([]byte(tt.data))
			switch {
			case tt.invalid:
				if !errors.Is(err, jetstream.ErrInvalidJSAck) {
					t.Fatalf("parseAck = %d, %v; want ErrInvalidJSAck", seq, err)
				}
			case tt.errCode != 0:
				var apiErr *jetstream.APIError
				if !errors.As(err, &apiErr) || apiErr.ErrorCode != tt.errCode || !isWrongLastSeq(err) {
					t.Fatalf("parseAck = %d, %v; want API error %d", seq, err, tt.errCode)
				}
			default:
				if err != nil || seq != tt.seq || dup != tt.dup {
					t.Fatalf("parseAck = %d, %v, %v; want %d, duplicate %v", seq, dup, err, tt.seq, tt.dup)
				}
			}
		})
	}
}

// TestLastSeqOf reads the subject's last sequence from a lost
// compare-and-swap, and 0 from any other error.
func TestLastSeqOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want uint64
	}{
		{"with sequence", fmt.Errorf("nats: %w", &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence, Description: "wrong last sequence: 1234"}), 1234},
		{"constant", &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant, Description: "wrong last sequence"}, 0},
		{"not a number", &jetstream.APIError{Description: "wrong last sequence: many"}, 0},
		{"not an API error", errors.New("wrong last sequence: 5"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lastSeqOf(tt.err); got != tt.want {
				t.Fatalf("lastSeqOf(%v) = %d, want %d", tt.err, got, tt.want)
			}
		})
	}
}
