package jsexc

import (
	"errors"
	"testing"
)

func TestCatch(t *testing.T) {
	thrown := errors.New("QuotaExceededError")
	cases := []struct {
		name string
		fn   func()
		want string // "" means no error
		is   error
	}{
		{"returns", func() {}, "", nil},
		{"panics with an error", func() { panic(thrown) }, "QuotaExceededError", thrown},
		{"panics with a string", func() { panic("SecurityError") }, "SecurityError", nil},
		{"panics with a number", func() { panic(42) }, "42", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Catch(tc.fn)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Catch = %v, want nil", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Fatalf("Catch = %v, want %q", err, tc.want)
			case tc.is != nil && !errors.Is(err, tc.is):
				t.Fatalf("Catch = %v, not the error thrown", err)
			}
		})
	}
}
