package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tetherkit/tether/broker"
)

// FileBans is a broker.BanStore in one JSON file, for a single node: its bans
// survive a restart. Expired bans are dropped when the file is written.
// Create it with NewFileBans.
type FileBans struct {
	path string
	now  func() time.Time

	mu sync.Mutex // one writer at a time
}

// NewFileBans returns the broker.BanStore kept in the file at path (created on the
// first ban, 0600, its directory 0700). An existing file must hold bans.
func NewFileBans(path string) (*FileBans, error) {
	f := &FileBans{path: path, now: time.Now}
	if _, err := f.read(); err != nil {
		return nil, err
	}
	return f, nil
}

// read returns the file's bans, none when there is no file.
func (f *FileBans) read() ([]broker.Ban, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("bans: %w", err)
	}
	var bans []broker.Ban
	if err := json.Unmarshal(b, &bans); err != nil {
		return nil, fmt.Errorf("bans in %s: %w", f.path, err)
	}
	return bans, nil
}

// write replaces the file with bans, those in force only, through a
// temporary file and a rename: a crash never leaves half a file.
func (f *FileBans) write(bans []broker.Ban) error {
	now := f.now()
	keep := make([]broker.Ban, 0, len(bans))
	for _, b := range bans {
		if b.Until.After(now) {
			keep = append(keep, b)
		}
	}
	data, err := json.MarshalIndent(keep, "", "  ")
	if err != nil {
		return fmt.Errorf("bans: %w", err)
	}
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("bans: %w", err)
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(f.path)+".*")
	if err != nil {
		return fmt.Errorf("bans: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("bans: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("bans: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("bans: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return fmt.Errorf("bans: %w", err)
	}
	return nil
}

// update applies fn to the file's bans and writes them back.
func (f *FileBans) update(fn func([]broker.Ban) []broker.Ban) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	bans, err := f.read()
	if err != nil {
		return err
	}
	return f.write(fn(bans))
}

// SaveBan implements broker.BanStore.
func (f *FileBans) SaveBan(_ context.Context, b broker.Ban) error {
	return f.update(func(bans []broker.Ban) []broker.Ban {
		return append(without(bans, b.User), b)
	})
}

// DeleteBan implements broker.BanStore.
func (f *FileBans) DeleteBan(_ context.Context, user string) error {
	return f.update(func(bans []broker.Ban) []broker.Ban { return without(bans, user) })
}

// LoadBans implements broker.BanStore.
func (f *FileBans) LoadBans(context.Context) ([]broker.Ban, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	bans, err := f.read()
	if err != nil {
		return nil, err
	}
	now := f.now()
	out := bans[:0]
	for _, b := range bans {
		if b.Until.After(now) {
			out = append(out, b)
		}
	}
	return out, nil
}

// without is bans without user's.
func without(bans []broker.Ban, user string) []broker.Ban {
	out := bans[:0]
	for _, b := range bans {
		if b.User != user {
			out = append(out, b)
		}
	}
	return out
}
