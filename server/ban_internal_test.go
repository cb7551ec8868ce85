package server

import (
	"strconv"
	"testing"
	"time"
)

// TestBanTable: bans expire, and a full table makes room by dropping the
// expired bans first and then the one that ends first.
func TestBanTable(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	var bt banTable
	for i := range maxBans {
		bt.add("u"+strconv.Itoa(i), ban{until: now.Add(time.Hour + time.Duration(i)*time.Second)}, now)
	}
	bt.add("late", ban{until: now.Add(48 * time.Hour), reason: "r"}, now)
	if n := len(bt.m); n != maxBans {
		t.Fatalf("table holds %d bans, want at most %d", n, maxBans)
	}
	if _, ok := bt.check("u0", now); ok {
		t.Error("the ban that ends first was kept when the table was full")
	}
	if b, ok := bt.check("late", now); !ok || b.reason != "r" {
		t.Error("the new ban was not recorded")
	}
	if _, ok := bt.check("u1", now.Add(2*time.Hour)); ok {
		t.Error("an expired ban is still in force")
	}
	tests := []struct {
		name string
		at   time.Time
		want bool
	}{
		{"before the end", now.Add(time.Hour), true},
		{"at the end", now.Add(48 * time.Hour), false},
	}
	for _, tt := range tests {
		var one banTable
		one.add("a", ban{until: now.Add(48 * time.Hour)}, now)
		if _, ok := one.check("a", tt.at); ok != tt.want {
			t.Errorf("%s: banned = %v, want %v", tt.name, ok, tt.want)
		}
	}
}
