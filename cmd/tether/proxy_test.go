package main

import (
	"net/http/httptest"
	"testing"
)

func TestTrustedProxiesClientIP(t *testing.T) {
	tp, err := parseTrustedProxies([]string{"10.0.0.0/8", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct client, header ignored", "203.0.113.9:5000", []string{"1.2.3.4"}, "203.0.113.9"},
		{"through a trusted proxy", "127.0.0.1:5000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"client-forged entries left of the real one are ignored", "127.0.0.1:5000", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"two trusted hops", "10.1.2.3:80", []string{"198.51.100.7, 10.9.9.9"}, "198.51.100.7"},
		{"several headers", "10.1.2.3:80", []string{"6.6.6.6", "198.51.100.7"}, "198.51.100.7"},
		{"no header: the proxy itself", "127.0.0.1:5000", nil, "127.0.0.1"},
		{"garbage stops the walk", "127.0.0.1:5000", []string{"198.51.100.7, nonsense"}, "127.0.0.1"},
		{"IPv4-mapped IPv6 peer", "[::ffff:127.0.0.1]:5000", []string{"198.51.100.7"}, "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/ws", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tp.clientIP(r); got != tt.want {
				t.Fatalf("clientIP = %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := parseTrustedProxies([]string{"10.0.0.0/33"}); err == nil {
		t.Fatal("accepted 10.0.0.0/33")
	}
	if _, err := parseTrustedProxies([]string{"proxy.local"}); err == nil {
		t.Fatal("accepted a host name")
	}
}
