package wasmsize

import (
	"errors"
	"reflect"
	"testing"
)

// uleb appends v in LEB128.
func uleb(b []byte, v int) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func section(id byte, body []byte) []byte {
	return append(uleb([]byte{id}, len(body)), body...)
}

func name(s string) []byte { return append(uleb(nil, len(s)), s...) }

// tinyWasm is a module with one imported function and two defined ones
// (bodies of 3 and 130 bytes), named in a name section.
func tinyWasm(withNames bool) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	imp := uleb(nil, 1)
	imp = append(imp, name("go")...)
	imp = append(imp, name("debug")...)
	imp = append(imp, 0, 0) // function, type 0
	b = append(b, section(sectionImport, imp)...)
	code := uleb(nil, 2)
	code = append(uleb(code, 3), 0, 0, 0x0b)
	code = uleb(code, 130)
	code = append(code, make([]byte, 130)...)
	b = append(b, section(sectionCode, code)...)
	b = append(b, section(sectionData, []byte{0, 1, 2, 3})...)
	if withNames {
		fn := uleb(nil, 3)
		for i, n := range []string{"go.debug", "runtime.main", "github.com_a_b.F"} {
			fn = append(uleb(fn, i), name(n)...)
		}
		names := append(name("name"), 1)
		names = append(uleb(names, len(fn)), fn...)
		b = append(b, section(sectionCustom, names)...)
	}
	return b
}

func TestParse(t *testing.T) {
	bin, err := Parse(tinyWasm(true))
	if err != nil {
		t.Fatal(err)
	}
	// A body counts with its length prefix: 1+3 and 2+130.
	want := map[string]int{"runtime.main": 4, "github.com_a_b.F": 132}
	if !reflect.DeepEqual(bin.Funcs, want) {
		t.Errorf("Funcs = %v, want %v (the imported function has no body)", bin.Funcs, want)
	}
	if bin.Code+bin.Data+bin.Other != bin.Size {
		t.Errorf("code %d + data %d + other %d != size %d", bin.Code, bin.Data, bin.Other, bin.Size)
	}
	if _, err := Parse(tinyWasm(false)); !errors.Is(err, ErrNoNames) {
		t.Errorf("Parse without names: %v, want ErrNoNames", err)
	}
	for _, bad := range [][]byte{nil, []byte("\x7fELF\x01\x00\x00\x00"), tinyWasm(true)[:30]} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", bad)
		}
	}
}

func TestByPackageAndGroup(t *testing.T) {
	funcs := map[string]int{
		"runtime.main":                  10,
		"github.com_a_b.F":              5,
		"github.com_a_b_sub.G":          7,
		"github.com_a_b.(*T).M":         1,
		"slices.Sort[go.shape.int]":     3,
		"type:.eq.github.com_a_b.T":     2,
		"go.buildid":                    4,
		"github.com_a_b_sub.init.func1": 1,
	}
	pkgs := []string{"runtime", "github.com/a-b", "github.com/a-b/sub", "slices"}
	by := ByPackage(funcs, pkgs)
	want := map[string]int{"runtime": 10, "github.com/a-b": 6, "github.com/a-b/sub": 8, "slices": 3, Linker: 6}
	if !reflect.DeepEqual(by, want) {
		t.Errorf("ByPackage = %v, want %v", by, want)
	}
	groups := []Group{
		{Name: "ours", Prefixes: []string{"github.com/a-b"}, Budget: 100},
		{Name: "std", Prefixes: []string{"runtime", "slices"}, Budget: 100},
	}
	sizes, unmatched := ByGroup(by, groups)
	if sizes[0].Code != 14 || sizes[1].Code != 13 {
		t.Errorf("group sizes %d, %d; want 14, 13", sizes[0].Code, sizes[1].Code)
	}
	if got := sizes[0].Packages; len(got) != 2 || got[0].Path != "github.com/a-b/sub" {
		t.Errorf("ours packages = %v, want the larger first", got)
	}
	if len(unmatched) != 1 || unmatched[0].Path != Linker {
		t.Errorf("unmatched = %v, want the linker's", unmatched)
	}
	if (Group{Prefixes: []string{"net"}}).Match("network") {
		t.Error(`"net" matches "network": a prefix is a whole path element`)
	}
}
