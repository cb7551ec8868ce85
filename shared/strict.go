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

// smallObject is how many keys an object holds before the check keeps them
// in a map instead of a slice.
const smallObject = 16

// objectKeys is one open object while DuplicateKey scans.
type objectKeys struct {
	key     string // the current key; "" before the first
	wantKey bool   // the next string token is a key
	keys    []string
	set     map[string]struct{}
}

// seen records key and reports whether it was there already.
func (o *objectKeys) seen(key string) bool {
	if o.set != nil {
		if _, ok := o.set[key]; ok {
			return true
		}
		o.set[key] = struct{}{}
		return false
	}
	for _, k := range o.keys {
		if k == key {
			return true
		}
	}
	o.keys = append(o.keys, key)
	if len(o.keys) > smallObject {
		o.set = make(map[string]struct{}, 2*smallObject)
		for _, k := range o.keys {
			o.set[k] = struct{}{}
		}
		o.keys = nil
	}
	return false
}

// DuplicateKey returns a *DuplicateKeyError for the first key that appears
// twice in one object of the JSON value data, looking maxDepth objects deep
// (1: the top object's keys only; 0: every level). It returns nil when there
// is none, and also when data is not valid JSON: decoding it reports that.
func DuplicateKey(data []byte, maxDepth int) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // no float conversion: a number is only skipped
	// stack holds the open objects and arrays; an array is nil.
	var stack []*objectKeys
	depth := 0 // objects open
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // io.EOF, or a syntax error the decoder reports
		}
		var top *objectKeys
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if s, ok := tok.(string); ok && top != nil && top.wantKey {
			top.wantKey = false
			if maxDepth == 0 || depth <= maxDepth {
				if top.seen(s) {
					return &DuplicateKeyError{Path: keyPath(stack, s)}
				}
			}
			top.key = s
			continue
		}
		switch tok {
		case json.Delim('{'):
			depth++
			stack = append(stack, &objectKeys{wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, nil)
			continue
		case json.Delim('}'):
			depth--
			stack = stack[:len(stack)-1]
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: the enclosing object wants its next key.
		if len(stack) > 0 && stack[len(stack)-1] != nil {
			stack[len(stack)-1].wantKey = true
		}
	}
}

// keyPath joins the current keys of the open objects and key.
func keyPath(stack []*objectKeys, key string) string {
	var b strings.Builder
	for _, o := range stack[:len(stack)-1] {
		if o != nil && o.key != "" {
			b.WriteString(o.key)
			b.WriteByte('.')
		}
	}
	b.WriteString(key)
	return b.String()
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
