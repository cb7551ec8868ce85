package shared

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// Message is implemented by every type that travels in an Envelope. Its
// method returns the stable wire name, which must be the same for every value
// of the type (it is called on the zero value).
type Message interface {
	MessageType() string
}

// Validator is implemented by messages that check their own content after
// decoding (required fields, lengths, ranges). A failing Validate makes the
// decode fail with ErrBadData.
type Validator interface {
	Validate() error
}

// FieldError is returned by Validate methods to name the offending field, so
// the error reaching the client or the HTTP API says which field is wrong.
type FieldError struct {
	// Field is the JSON name of the field, e.g. "text".
	Field string
	// Problem says what is wrong, e.g. "is required".
	Problem string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Field + " " + e.Problem }

// Registry maps wire type names to Go types. Build it with NewRegistry (the
// system messages) plus Register for each type of your own, before handing
// it to a server or client: from then on it is read-only and safe for
// concurrent use. Wherever a Config takes a Registry, nil means
// NewRegistry(): the protocol alone, which decodes no message of an app.
type Registry struct {
	types map[string]reflect.Type
}

// NewRegistry returns a registry of the system messages only (hello, join,
// error, …: the protocol itself). A program with message types of its own
// starts from it, registers them with Register and passes the registry to
// server.Config and client.Config; the server's HTTP API and metrics read
// it from the server.
func NewRegistry() *Registry {
	r := &Registry{types: make(map[string]reflect.Type)}
	registerSystem(r)
	return r
}

// Register adds T to r under T's MessageType. It panics on an invalid or
// duplicate name: that is a programming error caught at start-up.
func Register[T Message](r *Registry) {
	var zero T
	name := zero.MessageType()
	if err := ValidTypeName(name); err != nil {
		panic(fmt.Sprintf("shared.Register %T: %v", zero, err))
	}
	t := reflect.TypeOf(zero)
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("shared.Register %T: message types must be structs", zero))
	}
	if prev, dup := r.types[name]; dup {
		panic(fmt.Sprintf("shared.Register %T: type %q already registered by %v", zero, name, prev))
	}
	r.types[name] = t
}

// Known reports whether typ is registered.
func (r *Registry) Known(typ string) bool {
	_, ok := r.types[typ]
	return ok
}

// Types returns the registered wire names, sorted.
func (r *Registry) Types() []string {
	names := make([]string, 0, len(r.types))
	for n := range r.types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Decode returns the typed message carried by env, as a value of its
// registered struct type. It fails with ErrUnknownType or ErrBadData wrapped
// in a *DecodeError.
func (r *Registry) Decode(env Envelope) (Message, error) {
	t, ok := r.types[env.Type]
	if !ok {
		return nil, &DecodeError{Kind: ErrUnknownType, Type: env.Type, ID: env.ID}
	}
	p := reflect.New(t)
	if err := decodeData(env, p.Interface()); err != nil {
		return nil, err
	}
	return p.Elem().Interface().(Message), nil
}

// Unmarshal decodes env's data into a T. It fails with ErrUnknownType when
// env is of another type, and ErrBadData when the data does not fit T.
func Unmarshal[T Message](env Envelope) (T, error) {
	var m T
	if env.Type != m.MessageType() {
		return m, &DecodeError{Kind: ErrUnknownType, Type: env.Type, ID: env.ID,
			Err: fmt.Errorf("want %q", m.MessageType())}
	}
	err := decodeData(env, &m)
	return m, err
}

// UnmarshalFrame decodes a whole frame that must carry a T: the envelope,
// then its data. Errors are as for DecodeEnvelope and Unmarshal.
func UnmarshalFrame[T Message](frame []byte) (T, Envelope, error) {
	env, err := DecodeEnvelope(frame)
	if err != nil {
		var zero T
		return zero, Envelope{}, err
	}
	m, err := Unmarshal[T](env)
	return m, env, err
}

// TypeOf returns the wire name of T.
func TypeOf[T Message]() string {
	var zero T
	return zero.MessageType()
}

// decodeData strictly decodes env.Data into dst (a pointer to a message
// struct): data that is not an object, a key twice, unknown fields, wrong
// JSON types and trailing data are errors, and a Validator's Validate is
// called.
func decodeData(env Envelope, dst any) error {
	fail := func(field string, err error) error {
		return &DecodeError{Kind: ErrBadData, Type: env.Type, ID: env.ID, Field: field, Err: err}
	}
	data := bytes.TrimLeft(env.Data, " \t\r\n")
	if len(data) == 0 || string(data) == "null" {
		data = []byte("{}")
	}
	if data[0] != '{' {
		return fail("data", errors.New("data must be a JSON object"))
	}
	if err := DuplicateKey(data, 0); err != nil {
		var dk *DuplicateKeyError
		errors.As(err, &dk)
		return fail("data."+dk.Path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fail(fieldOf(err), err)
	}
	if dec.More() {
		return fail("", errors.New("trailing data after object"))
	}
	if v, ok := dst.(Validator); ok {
		if err := v.Validate(); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return fail("data."+fe.Field, err)
			}
			return fail("", err)
		}
	}
	return nil
}

// JSONField names the field a json decoding error is about ("" when it
// names none): the path of a wrong JSON type, or the name of an unknown
// field that a DisallowUnknownFields decoder refused.
func JSONField(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return te.Field
	}
	name, _ := unknownField(err)
	return name
}

// unknownField returns the name of the unknown field that a
// DisallowUnknownFields decoder refused. encoding/json says so only in its
// error text, `json: unknown field "name"` (TestUnknownFieldText pins it):
// this is the one place that reads it.
func unknownField(err error) (name string, ok bool) {
	if err == nil {
		return "", false
	}
	f, ok := strings.CutPrefix(err.Error(), "json: unknown field ")
	if !ok {
		return "", false
	}
	return strings.Trim(f, `"`), true
}

// fieldOf is JSONField under the envelope's "data".
func fieldOf(err error) string {
	if f := JSONField(err); f != "" {
		return "data." + f
	}
	return ""
}
