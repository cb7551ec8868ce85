// Package wasmsize tells where the bytes of a Go WebAssembly binary go: the
// size of each section, and the code of each function summed by Go package
// and by package group. `go tool nm` does not read wasm binaries; the
// linker's name section (kept unless the binary is linked with -s) names
// every function, so the code section can be attributed exactly. The data
// section (read-only data, type descriptors, the pc tables) has no symbols
// in a wasm binary and is reported as one figure.
package wasmsize

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Section ids of the WebAssembly binary format.
const (
	sectionCustom = 0
	sectionImport = 2
	sectionCode   = 10
	sectionData   = 11
)

// ErrNoNames is returned by Parse for a binary without a name section
// (linked with -ldflags=-s): its code cannot be attributed.
var ErrNoNames = errors.New("wasmsize: no name section (link without -s)")

// Binary is what Parse found in a wasm binary.
type Binary struct {
	// Size is the binary's length in bytes.
	Size int
	// Code and Data are the sizes of the code and data sections; Other is
	// every other section (imports, types, names, …) with the header.
	Code, Data, Other int
	// Funcs is the size of each function's body (with its length prefix)
	// by its name in the name section. Code is their sum plus the code
	// section's own header.
	Funcs map[string]int
}

// Parse reads the sections of a wasm binary and the size of every function.
func Parse(wasm []byte) (*Binary, error) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:4], []byte("\x00asm")) {
		return nil, errors.New("wasmsize: not a wasm binary")
	}
	b := &Binary{Size: len(wasm), Other: 8, Funcs: make(map[string]int)}
	var imported int    // functions imported: they come first in the index space
	var bodies []int    // body sizes, by defined function index
	var names []nameRef // function names, by index
	r := reader{buf: wasm, off: 8}
	for !r.done() {
		begin := r.off
		id, body, err := r.section()
		if err != nil {
			return nil, fmt.Errorf("wasmsize: %w", err)
		}
		total := r.off - begin // with the id and the size prefix
		sec := reader{buf: body}
		switch id {
		case sectionCode:
			b.Code += total
			if bodies, err = funcBodies(&sec); err != nil {
				return nil, fmt.Errorf("wasmsize: code section: %w", err)
			}
		case sectionData:
			b.Data += total
		case sectionImport:
			b.Other += total
			if imported, err = importedFuncs(&sec); err != nil {
				return nil, fmt.Errorf("wasmsize: import section: %w", err)
			}
		case sectionCustom:
			b.Other += total
			name, err := sec.name()
			if err != nil {
				return nil, fmt.Errorf("wasmsize: custom section: %w", err)
			}
			if name == "name" {
				if names, err = funcNames(&sec); err != nil {
					return nil, fmt.Errorf("wasmsize: name section: %w", err)
				}
			}
		default:
			b.Other += total
		}
	}
	if names == nil {
		return nil, ErrNoNames
	}
	for _, n := range names {
		i := n.index - imported
		if i < 0 || i >= len(bodies) {
			continue // an imported function: no body here
		}
		b.Funcs[n.name] += bodies[i]
	}
	return b, nil
}

// nameRef is one entry of the name section's function names.
type nameRef struct {
	index int
	name  string
}

// funcBodies returns the size of each body in the code section, with its
// length prefix.
func funcBodies(r *reader) ([]int, error) {
	var out []int
	err := r.vector(func() error {
		before := r.off
		if _, err := r.sized(); err != nil {
			return err
		}
		out = append(out, r.off-before)
		return nil
	})
	return out, err
}

// importedFuncs counts the functions among the import section's entries.
func importedFuncs(r *reader) (int, error) {
	funcs := 0
	err := r.vector(func() error {
		if _, err := r.name(); err != nil { // module
			return err
		}
		if _, err := r.name(); err != nil { // field
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0: // function: type index
			funcs++
			_, err = r.uleb()
		case 1: // table: reftype, limits
			if _, err = r.byte(); err == nil {
				err = r.limits()
			}
		case 2: // memory: limits
			err = r.limits()
		case 3: // global: valtype, mutability
			_, err = r.bytes(2)
		default:
			err = fmt.Errorf("import kind %d", kind)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return funcs, nil
}

// funcNames reads the function names of the name section (after its own
// name): its subsections have the layout of the binary's sections.
func funcNames(r *reader) ([]nameRef, error) {
	var out []nameRef
	for !r.done() {
		sub, body, err := r.section()
		if err != nil {
			return nil, err
		}
		if sub != 1 { // 1: function names
			continue
		}
		s := reader{buf: body}
		err = s.vector(func() error {
			idx, err := s.uleb()
			if err != nil {
				return err
			}
			name, err := s.name()
			if err != nil {
				return err
			}
			out = append(out, nameRef{index: int(idx), name: name})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if out == nil {
		out = []nameRef{}
	}
	return out, nil
}

// reader reads the binary format's primitives.
type reader struct {
	buf []byte
	off int
}

var errShort = errors.New("truncated")

func (r *reader) done() bool { return r.off >= len(r.buf) }

func (r *reader) byte() (byte, error) {
	if r.done() {
		return 0, errShort
	}
	r.off++
	return r.buf[r.off-1], nil
}

func (r *reader) uleb() (uint64, error) {
	v, n := binary.Uvarint(r.buf[r.off:])
	if n <= 0 {
		return 0, errShort
	}
	r.off += n
	return v, nil
}

func (r *reader) bytes(n int) ([]byte, error) {
	if n < 0 || n > len(r.buf)-r.off {
		return nil, errShort
	}
	r.off += n
	return r.buf[r.off-n : r.off], nil
}

// sized reads a length in bytes, then that many bytes.
func (r *reader) sized() ([]byte, error) {
	n, err := r.uleb()
	if err != nil {
		return nil, err
	}
	return r.bytes(int(n))
}

// section reads a section (or a name subsection): its id byte, then its
// sized body.
func (r *reader) section() (id byte, body []byte, err error) {
	if id, err = r.byte(); err != nil {
		return 0, nil, err
	}
	if body, err = r.sized(); err != nil {
		return 0, nil, fmt.Errorf("section %d: %w", id, err)
	}
	return id, body, nil
}

// vector reads a count, then calls item that many times, stopping at the
// first error.
func (r *reader) vector(item func() error) error {
	n, err := r.uleb()
	if err != nil {
		return err
	}
	for range n {
		if err := item(); err != nil {
			return err
		}
	}
	return nil
}

func (r *reader) name() (string, error) {
	b, err := r.sized()
	return string(b), err
}

func (r *reader) limits() error {
	flags, err := r.byte()
	if err != nil {
		return err
	}
	if _, err := r.uleb(); err != nil {
		return err
	}
	if flags&1 != 0 {
		_, err = r.uleb()
	}
	return err
}

// Mangle returns how the Go linker spells an import path in a wasm name
// section: every byte other than a letter, a digit, '.' or '_' becomes '_'
// ("github.com/a-b/c" is "github.com_a_b_c").
func Mangle(importPath string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_':
			return r
		}
		return '_'
	}, importPath)
}

// Linker is the package ByPackage reports functions under when their name
// matches none of the packages given (the linker's own: type equality and
// hash functions, wrappers, the entry point).
const Linker = "(linker)"

// ByPackage sums the code of funcs by the Go package each belongs to, among
// packages (import paths, as `go list -deps` prints them). A function
// belongs to the longest package whose mangled path followed by '.' starts
// its name; a generic instantiation ("slices.Sort[…]") counts for the
// package that declares the generic function.
func ByPackage(funcs map[string]int, packages []string) map[string]int {
	byMangled := make(map[string]string, len(packages))
	for _, p := range packages {
		byMangled[Mangle(p)] = p
	}
	out := make(map[string]int)
	for name, size := range funcs {
		pkg := Linker
		// Try each '.' in the name as the end of the package, longest first.
		for i := strings.LastIndexByte(name, '.'); i > 0; i = strings.LastIndexByte(name[:i], '.') {
			if p, ok := byMangled[name[:i]]; ok {
				pkg = p
				break
			}
		}
		out[pkg] += size
	}
	return out
}

// Group is a named set of packages with a code size budget.
type Group struct {
	// Name says what the packages are for.
	Name string
	// Prefixes are import paths: a package belongs to the group when its
	// path equals one or starts with one followed by '/'. "" matches every
	// package (a catch-all group, listed last).
	Prefixes []string
	// Budget is the most code, in bytes, the group may link.
	Budget int
}

// Match reports whether the package belongs to the group.
func (g Group) Match(pkg string) bool {
	for _, p := range g.Prefixes {
		if p == "" || pkg == p || strings.HasPrefix(pkg, p+"/") {
			return true
		}
	}
	return false
}

// GroupSize is one group's total and its packages, largest first.
type GroupSize struct {
	Group
	// Code is the code of the group's packages, in bytes.
	Code int
	// Packages are the group's packages with their code, largest first.
	Packages []PackageSize
}

// PackageSize is one package's code in bytes.
type PackageSize struct {
	Path string
	Code int
}

// ByGroup sums byPackage into groups: each package counts in the first group
// it matches (so a catch-all group goes last), and packages no group
// matches are returned apart.
func ByGroup(byPackage map[string]int, groups []Group) (sizes []GroupSize, unmatched []PackageSize) {
	sizes = make([]GroupSize, len(groups))
	for i, g := range groups {
		sizes[i].Group = g
	}
	for pkg, code := range byPackage {
		i := slices.IndexFunc(groups, func(g Group) bool { return g.Match(pkg) })
		if i < 0 {
			unmatched = append(unmatched, PackageSize{pkg, code})
			continue
		}
		sizes[i].Code += code
		sizes[i].Packages = append(sizes[i].Packages, PackageSize{pkg, code})
	}
	for i := range sizes {
		sortPackages(sizes[i].Packages)
	}
	sortPackages(unmatched)
	return sizes, unmatched
}

func sortPackages(p []PackageSize) {
	sort.Slice(p, func(i, j int) bool {
		if p[i].Code != p[j].Code {
			return p[i].Code > p[j].Code
		}
		return p[i].Path < p[j].Path
	})
}
