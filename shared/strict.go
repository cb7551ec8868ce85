package shared

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Strict input. encoding/json accepts an object that has the same key twice
// and keeps the last value, so {"type":"ping","type":"join"} would be a
// join. Tether refuses such frames and bodies: DuplicateKey finds the key.

// DuplicateKeyError says that an object of a JSON value has a key twice.
type DuplicateKeyError struct {
	// Path is the key's path from the value's top, keys joined by "."
	// (e.g. "target.kind"); array indices are left out.
	Path string
}

// Error implements error.
func (e *DuplicateKeyError) Error() string {
	return fmt.Sprintf("key %q appears twice", e.Path)
}

// smallObject is how many keys of one object DuplicateKey compares one by
// one before it puts them in a map.
const smallObject = 16

// maxNesting bounds how deep DuplicateKey descends, like encoding/json's own
// limit: deeper input is not valid for the decoder anyway.
const maxNesting = 10000

// DuplicateKey returns a *DuplicateKeyError for the first key that appears
// twice in one object of the JSON value data, looking maxDepth objects deep
// (1: the top object's keys only; 0: every level), or nil when there is
// none. Keys are compared after unescaping ("\u0074ype" is "type"). Decode
// data first: when it is not valid JSON, DuplicateKey stops where the
// syntax breaks and reports what it found until then.
//
// It scans data once without allocating, except for keys with escapes and
// objects of more than a few keys.
func DuplicateKey(data []byte, maxDepth int) error {
	sc := keyScanner{data: data, maxDepth: maxDepth}
	sc.value(0, 0)
	if sc.found {
		return &DuplicateKeyError{Path: sc.path}
	}
	return nil
}

// keyScanner walks a JSON value looking for a key given twice. Its methods
// return false to stop: at a duplicate (found) or where the input is not
// JSON.
type keyScanner struct {
	data     []byte
	i        int
	maxDepth int
	keys     [][]byte // the keys of the open objects, innermost last
	found    bool     // a duplicate was found, at path
	path     string
}

func (sc *keyScanner) space() {
	for sc.i < len(sc.data) {
		switch sc.data[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

// value scans one value; nesting counts the open objects and arrays,
// objects the open objects.
func (sc *keyScanner) value(nesting, objects int) bool {
	sc.space()
	if sc.i >= len(sc.data) || nesting >= maxNesting {
		return false
	}
	switch sc.data[sc.i] {
	case '{':
		return sc.object(nesting+1, objects+1)
	case '[':
		return sc.array(nesting+1, objects)
	case '"':
		_, _, ok := sc.str()
		return ok
	}
	// A number, true, false or null: up to the next delimiter.
	start := sc.i
	for sc.i < len(sc.data) {
		switch sc.data[sc.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return sc.i > start
		}
		sc.i++
	}
	return sc.i > start
}

// str scans a string; raw is its quoted text, escaped whether it has a
// backslash.
func (sc *keyScanner) str() (raw []byte, escaped, ok bool) {
	start := sc.i
	for j := start + 1; j < len(sc.data); j++ {
		switch sc.data[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			sc.i = j + 1
			return sc.data[start : j+1], escaped, true
		}
	}
	return nil, false, false
}

func (sc *keyScanner) object(nesting, objects int) bool {
	sc.i++ // {
	base := len(sc.keys)
	defer func() { sc.keys = sc.keys[:base] }()
	track := sc.maxDepth == 0 || objects <= sc.maxDepth
	var set map[string]struct{} // once the object has many keys
	sc.space()
	if sc.i < len(sc.data) && sc.data[sc.i] == '}' {
		sc.i++
		return true
	}
	for {
		sc.space()
		if sc.i >= len(sc.data) || sc.data[sc.i] != '"' {
			return false
		}
		raw, escaped, ok := sc.str()
		if !ok {
			return false
		}
		key := raw[1 : len(raw)-1]
		if escaped {
			var k string
			if json.Unmarshal(raw, &k) != nil {
				return false
			}
			key = []byte(k)
		}
		if track && sc.seen(base, &set, key) {
			sc.found, sc.path = true, string(key)
			return false
		}
		sc.space()
		if sc.i >= len(sc.data) || sc.data[sc.i] != ':' {
			return false
		}
		sc.i++
		if !sc.value(nesting, objects) {
			if sc.found {
				sc.path = string(key) + "." + sc.path
			}
			return false
		}
		if more, ok := sc.delim('}'); !more {
			return ok
		}
	}
}

// seen records key among the keys of the object whose keys start at base,
// and reports whether it was there already.
func (sc *keyScanner) seen(base int, set *map[string]struct{}, key []byte) bool {
	if *set != nil {
		if _, dup := (*set)[string(key)]; dup {
			return true
		}
		(*set)[string(key)] = struct{}{}
		return false
	}
	for _, k := range sc.keys[base:] {
		if bytes.Equal(k, key) {
			return true
		}
	}
	if sc.keys == nil {
		sc.keys = make([][]byte, 0, 8) // one allocation for a typical frame
	}
	sc.keys = append(sc.keys, key)
	if len(sc.keys)-base > smallObject {
		*set = make(map[string]struct{}, 2*smallObject)
		for _, k := range sc.keys[base:] {
			(*set)[string(k)] = struct{}{}
		}
	}
	return false
}

// delim skips white space and the ',' or the end byte that must follow an
// object's member or an array's element: more is true after a ',', ok is
// false when neither follows.
func (sc *keyScanner) delim(end byte) (more, ok bool) {
	sc.space()
	if sc.i >= len(sc.data) {
		return false, false
	}
	switch sc.data[sc.i] {
	case ',':
		sc.i++
		return true, true
	case end:
		sc.i++
		return false, true
	}
	return false, false
}

func (sc *keyScanner) array(nesting, objects int) bool {
	sc.i++ // [
	sc.space()
	if sc.i < len(sc.data) && sc.data[sc.i] == ']' {
		sc.i++
		return true
	}
	for {
		if !sc.value(nesting, objects) {
			return false
		}
		if more, ok := sc.delim(']'); !more {
			return ok
		}
	}
}

// TextTooLong checks the length of text that a user typed: at most
// maxChars characters (Unicode code points, which is what the UI counts
// and says). The byte length is bounded as well, at 4 bytes a character
// (the most UTF-8 uses), and is checked first so that an oversized string
// is refused without counting it. It returns a FieldError for field, or
// nil.
func TextTooLong(field, text string, maxChars int) error {
	if len(text) > 4*maxChars || utf8.RuneCountInString(text) > maxChars {
		return &FieldError{Field: field, Problem: fmt.Sprintf("is longer than %d characters", maxChars)}
	}
	return nil
}

// Sentence says what is wrong with the frame as a human sentence, for the
// error message sent back. The field it is about is in Field (and in the
// error message's own field), not repeated in parentheses.
func (e *DecodeError) Sentence() string {
	var fe *FieldError
	var dk *DuplicateKeyError
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	what := "The data"
	if e.Kind == ErrMalformed {
		what = "The frame"
	}
	switch {
	case e.Kind == ErrUnknownType && e.Err == nil:
		return fmt.Sprintf("There is no message type %q.", e.Type)
	case errors.As(e.Err, &fe):
		return capitalize(fe.Error()) + "."
	case errors.As(e.Err, &dk):
		return fmt.Sprintf("The key %q appears twice; send each key once.", orName(e.Field, dk.Path))
	case errors.As(e.Err, &te):
		return fmt.Sprintf("%s must be %s, not %s.", orName(e.Field, what), jsonKind(te.Type.Kind().String()), jsonValue(te.Value))
	case errors.As(e.Err, &se):
		return what + " is not valid JSON: " + strings.TrimPrefix(se.Error(), "json: ") + "."
	}
	if name, ok := unknownField(e.Err); ok {
		return fmt.Sprintf("There is no field %q in %q messages.", name, e.Type)
	}
	if e.Err != nil {
		return capitalize(strings.TrimPrefix(e.Err.Error(), "json: ")) + "."
	}
	return capitalize(e.Kind.Error()) + "."
}

// jsonKind names the JSON value a Go kind is decoded from.
func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "uint"):
		return "a whole number of 0 or more"
	case strings.HasPrefix(goKind, "int"):
		return "a whole number"
	case strings.HasPrefix(goKind, "float"):
		return "a number"
	case goKind == "string":
		return "a string"
	case goKind == "bool":
		return "true or false"
	case goKind == "slice", goKind == "array":
		return "an array"
	}
	return "an object"
}

// jsonValue names the JSON value encoding/json found: "string" → "a
// string", "number -5" → "-5".
func jsonValue(v string) string {
	kind, literal, _ := strings.Cut(v, " ")
	switch kind {
	case "number":
		if literal != "" {
			return literal
		}
	case "array", "object":
		return "an " + kind
	case "bool":
		return "true or false"
	case "":
		return "that"
	}
	return "a " + kind
}

func orName(field, def string) string {
	if field == "" {
		return def
	}
	return field
}

// capitalize upper-cases the first letter of an ASCII sentence.
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
