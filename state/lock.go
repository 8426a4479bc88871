package state

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/gofrs/flock"
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

// tryLock takes l, polling until ctx ends.
func tryLock(ctx context.Context, l *flock.Flock) (bool, error) {
	delay := lockPollMin
	for {
		if ok, err := l.TryLock(); ok || err != nil {
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
