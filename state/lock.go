package state

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"time"
)

// Lock polling backs off from lockPollMin to lockPollMax, with jitter.
// A fixed short period has every waiter wake up hundreds of times a second:
// with dozens of processes waiting on one file, those wake-ups took the CPU
// the holder needed, and the queue behind it crawled past the lock timeout
// (counts were lost). Backing off keeps the total polling rate near
// constant, however many wait.
const (
	lockPollMin = time.Millisecond
	lockPollMax = 25 * time.Millisecond
)

// lock takes the exclusive lock on the lock file beside the state file,
// waiting at most the Store's lock timeout, and returns its release.
func (s *Store) lock(ctx context.Context) (unlock func(), err error) {
	if err := makeDir(filepath.Dir(s.path)); err != nil {
		return nil, fmt.Errorf("state: create folder: %w", err)
	}
	l, err := openLock(s.LockPath())
	if err != nil {
		return nil, fmt.Errorf("state: lock: %w", err)
	}
	// The lock is free almost always: no timer for that case.
	ok, err := l.tryLock()
	if !ok && err == nil {
		wait, cancel := context.WithTimeout(ctx, s.lockTimeout)
		if ok, err = waitLock(wait, l); wait.Err() != nil {
			err = nil // out of time, or the caller gave up: ok is false
		}
		cancel()
	}
	if err != nil {
		l.release()
		return nil, fmt.Errorf("state: lock: %w", err)
	}
	if !ok {
		l.release()
		return nil, ErrLockTimeout
	}
	return l.release, nil
}

// fileLock is an open lock file: an exclusive flock on Unix, LockFileEx
// elsewhere. Either excludes another descriptor of the same process, which
// POSIX fcntl locks would not.
type fileLock interface {
	// tryLock takes the lock if it is free.
	tryLock() (bool, error)
	// release drops the lock, if held, and closes the file.
	release()
}

// waitLock takes l, polling until ctx ends.
func waitLock(ctx context.Context, l fileLock) (bool, error) {
	delay := lockPollMin
	for {
		if ok, err := l.tryLock(); ok || err != nil {
			return ok, err
		}
		t := time.NewTimer(delay/2 + rand.N(delay))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, lockPollMax)
	}
}
