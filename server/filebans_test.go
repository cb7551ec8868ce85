package server

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tetherkit/tether/broker"
)

// TestFileBans: bans saved to the file are loaded by a new FileBans on the
// same path (a restart), a ban replaces the user's earlier one, an unban
// and an expired ban are gone, and a file that is not bans is refused.
func TestFileBans(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state", "bans.json")
	now := time.Now()
	f, err := NewFileBans(path)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name string
		do   func(*FileBans) error
		want []string // users banned after the step
	}{
		{"ban", func(f *FileBans) error {
			return f.SaveBan(ctx, broker.Ban{User: "m", Until: now.Add(time.Hour), Reason: "spam"})
		}, []string{"m"}},
		{"second", func(f *FileBans) error { return f.SaveBan(ctx, broker.Ban{User: "x", Until: now.Add(time.Hour)}) }, []string{"m", "x"}},
		{"replace", func(f *FileBans) error {
			return f.SaveBan(ctx, broker.Ban{User: "m", Until: now.Add(2 * time.Hour), Reason: "again"})
		}, []string{"x", "m"}},
		{"expired", func(f *FileBans) error { return f.SaveBan(ctx, broker.Ban{User: "old", Until: now.Add(-time.Second)}) }, []string{"x", "m"}},
		{"unban", func(f *FileBans) error { return f.DeleteBan(ctx, "x") }, []string{"m"}},
	}
	for _, st := range steps {
		if err := st.do(f); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		restarted, err := NewFileBans(path)
		if err != nil {
			t.Fatalf("%s: reopen: %v", st.name, err)
		}
		bans, err := restarted.LoadBans(ctx)
		if err != nil {
			t.Fatalf("%s: load: %v", st.name, err)
		}
		var got []string
		for _, b := range bans {
			got = append(got, b.User)
		}
		if len(got) != len(st.want) {
			t.Fatalf("after %s the reopened file has %v, want %v", st.name, got, st.want)
		}
		for i := range got {
			if got[i] != st.want[i] {
				t.Fatalf("after %s the reopened file has %v, want %v", st.name, got, st.want)
			}
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("bans file mode %v, %v; want 0600", fi.Mode(), err)
	}
	bad := filepath.Join(t.TempDir(), "bans.json")
	if err := os.WriteFile(bad, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFileBans(bad); err == nil {
		t.Error("NewFileBans accepted a file that is not bans")
	}
}
