//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package state

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
)

// The spare file a Linux update leaves holds at most the version before, and
// never an identity the file no longer has: a durable write (a new
// identity, a setting, an event) removes it.
func TestSpareHoldsNothingTheFileDoesNot(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	var first string
	if err := s.Update(ctx, func(st *State) error {
		_, err := st.EnsureUserID(t0)
		first = st.UserID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Update(ctx, func(st *State) error {
			if st.Counters == nil {
				st.Counters = map[string]int64{}
			}
			st.Counters["cli.version.count"]++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	spare := nextPath(s.Path())
	if b, err := os.ReadFile(spare); err == nil && !strings.Contains(string(b), first) {
		t.Errorf("the spare holds another identity:\n%s", b)
	}
	// A reset: a new identity.
	if err := s.Update(ctx, func(st *State) error {
		*st = State{}
		_, err := st.EnsureUserID(t0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(spare); err == nil {
		t.Errorf("after a new identity the spare still holds:\n%s", b)
	}
	b, _ := os.ReadFile(s.Path())
	if strings.Contains(string(b), first) {
		t.Errorf("the old identity is still in the file")
	}
}

// Readers running beside writers always read a whole file, however the
// writers replace it (on Linux they rewrite the spare a reader may have
// opened just before a swap: readers share the lock).
func TestLoadBesideWritersSeesWholeFiles(t *testing.T) {
	ctx := context.Background()
	path := newStore(t).Path()
	if err := New(path).Update(ctx, func(st *State) error { _, err := st.EnsureUserID(t0); return err }); err != nil {
		t.Fatal(err)
	}
	// One reader in a loop: several would always overlap and hold the
	// writers off, as flock favours neither side (programs starting are
	// far sparser than that).
	const writers, readers, each = 3, 1, 300
	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, writers+readers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := New(path)
			for i := range each {
				// Names of changing lengths: the file grows and shrinks.
				err := s.Update(ctx, func(st *State) error {
					st.Counters = map[string]int64{fmt.Sprintf("cli.w%d.%s.count", w, strings.Repeat("x", i%40)): int64(i)}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var rg sync.WaitGroup
	for range readers {
		rg.Add(1)
		go func() {
			defer rg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := New(path).Load(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(done)
	rg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
