package server

import (
	"slices"
	"testing"
	"unsafe"
)

func TestNameSet(t *testing.T) {
	type op struct {
		add  bool // false: remove
		name string
		want bool // add: was absent; remove: was present
	}
	tests := []struct {
		name string
		ops  []op
		list []string
	}{
		{"empty", nil, []string{}},
		{"one", []op{{true, "a", true}}, []string{"a"}},
		{"sorted whatever the order", []op{{true, "c", true}, {true, "a", true}, {true, "b", true}}, []string{"a", "b", "c"}},
		{"added twice", []op{{true, "a", true}, {true, "a", false}}, []string{"a"}},
		{"removed", []op{{true, "a", true}, {true, "b", true}, {false, "a", true}}, []string{"b"}},
		{"removed twice", []op{{true, "a", true}, {false, "a", true}, {false, "a", false}}, []string{}},
		{"removing what is absent", []op{{true, "b", true}, {false, "a", false}, {false, "c", false}}, []string{"b"}},
		{"middle out", []op{{true, "a", true}, {true, "b", true}, {true, "c", true}, {false, "b", true}, {true, "bb", true}}, []string{"a", "bb", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s nameSet
			for _, o := range tt.ops {
				var got bool
				if o.add {
					got = s.add(o.name)
				} else {
					got = s.remove(o.name)
				}
				if got != o.want {
					t.Fatalf("add=%v %q = %v, want %v", o.add, o.name, got, o.want)
				}
			}
			if got := s.list(); !slices.Equal(got, tt.list) {
				t.Errorf("list = %q, want %q", got, tt.list)
			}
			for _, n := range tt.list {
				if !s.has(n) {
					t.Errorf("has(%q) = false", n)
				}
			}
			if s.has("zz") {
				t.Error(`has("zz") = true`)
			}
			if len(tt.list) == 0 && s != nil {
				t.Error("an empty set keeps its array")
			}
		})
	}
	// list is a copy: changing it leaves the set alone.
	var s nameSet
	s.add("a")
	l := s.list()
	l[0] = "x"
	if !s.has("a") || s.has("x") {
		t.Error("list shares the set's array")
	}
}

// TestConnSize keeps the per-connection state of an idle connection in the
// 512-byte size class of the Go allocator: each byte of it is held by every
// open connection, and about twice over in the process's memory (the heap
// goal). The next class up is 576 bytes.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 512 {
		t.Errorf("Conn is %d bytes, want at most 512 (pack the small fields together, or keep rarely used state behind a pointer)", n)
	}
}
