package state

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Names of the files beside config.yaml, and the largest journal file: half
// a million runs' worth.
const (
	JournalName    = "counts.journal"
	foldSuffix     = ".folding"
	maxJournalSize = 16 << 20
)

// JournalPath returns the path of the journal beside the state file.
func (s *Store) JournalPath() string { return s.beside(JournalName) }

// Add appends counts to the journal with one write, waiting for no one:
// one line of name=count pairs. Names with a space, '=' or a byte outside
// printable ASCII are left out (a counter name has none). It never touches
// config.yaml; the caller checks that telemetry is on.
func (s *Store) Add(counts map[string]int64) error {
	var line []byte
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		if n := counts[name]; n > 0 && plain(name) {
			line = append(strconv.AppendInt(append(append(line, name...), '='), n, 10), ' ')
		}
	}
	if len(line) == 0 {
		return nil
	}
	line[len(line)-1] = '\n'
	path := s.JournalPath()
	for range 8 {
		f, err := openAppend(path, true)
		if errors.Is(err, fs.ErrNotExist) {
			err = os.MkdirAll(s.beside(""), 0o700) // then try again
		} else if err == nil {
			var done bool
			if done, err = appendTo(f, path, line); done {
				return err
			}
		}
		if err != nil {
			return err
		}
	}
	return errors.New("state: folds kept taking the journal away")
}

// appendTo writes line to f and closes it; done is false when a fold took
// f away from path first.
func appendTo(f *os.File, path string, line []byte) (done bool, err error) {
	defer func() {
		if cerr := f.Close(); err == nil && done {
			err = cerr
		}
	}()
	defer unlockJournal(f)
	if ok, _ := lockJournal(f, false); !ok || !isAt(f, path) {
		return false, nil
	}
	return true, writeLine(f, line)
}

// isAt reports whether f is still the file at path.
func isAt(f *os.File, path string) bool {
	a, err := f.Stat()
	b, err2 := os.Stat(path)
	return err == nil && err2 == nil && os.SameFile(a, b)
}

// takeJournal adds the journal's counts to st's and returns the folding
// files consumed, which st.Folded names. The caller holds the lock.
func (s *Store) takeJournal(st *State) []string {
	// The last fold's files were added: they go before this write forgets them.
	for _, name := range st.Folded {
		_ = removeFile(s.beside(name))
	}
	st.Folded = nil
	// A name of its own: folds cut short never take one file for another.
	_ = renameFile(s.JournalPath(), s.beside("counts."+uuid.NewString()+foldSuffix))
	if st.Counters == nil {
		st.Counters = map[string]int64{}
	}
	for _, name := range s.foldingFiles(nil) {
		// A file an appender is stuck on waits for the next fold.
		if drain(s.beside(name), st.Counters) {
			st.Folded = append(st.Folded, name)
		}
	}
	return st.Folded
}

// foldingFiles lists the folding files but those in skip.
func (s *Store) foldingFiles(skip []string) []string {
	entries, _ := os.ReadDir(s.beside(""))
	var names []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "counts.") && strings.HasSuffix(n, foldSuffix) && !slices.Contains(skip, n) {
			names = append(names, n)
		}
	}
	return names
}

// drainWait bounds a fold's wait for an appender: a longer one is stuck.
const drainWait = 100 * time.Millisecond

// drain waits until no appender writes to the folding file at path, then
// adds its lines to counts.
func drain(path string, counts map[string]int64) bool {
	f, err := openAppend(path, false)
	if err != nil {
		return false
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), drainWait)
	defer cancel()
	if ok, _ := poll(ctx, func() (bool, error) { return lockJournal(f, true) }); !ok {
		return false
	}
	defer unlockJournal(f)
	b, _, err := readFile(path, maxJournalSize)
	if err == nil {
		addLines(counts, b)
	}
	return err == nil
}

// addLines adds each whole line of a journal to counts but a line that does
// not decode (a hand edit) and a last one cut short (by a power loss).
func addLines(counts map[string]int64, b []byte) {
	lines := strings.Split(string(b), "\n")
	for _, line := range lines[:len(lines)-1] {
		pairs := map[string]int64{}
		for _, pair := range strings.Fields(line) {
			name, v, _ := strings.Cut(pair, "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n <= 0 || !plain(name) {
				pairs = nil
				break
			}
			pairs[name] = saturatingAdd(pairs[name], n)
		}
		for name, n := range pairs {
			counts[name] = saturatingAdd(counts[name], n)
		}
	}
}

// plain reports whether a counter name can stand in a journal line.
func plain(name string) bool {
	for i := 0; i < len(name); i++ {
		if name[i] <= ' ' || name[i] > '~' || name[i] == '=' {
			return false
		}
	}
	return name != ""
}

// Counts returns every count not yet in an event, wherever it is stored. It
// takes no lock and writes nothing.
func (s *Store) Counts() (map[string]int64, error) {
	st, err := s.Load()
	if errors.Is(err, fs.ErrNotExist) {
		st, err = &State{}, nil
	}
	if err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	maps.Copy(counts, st.Counters)
	for _, name := range append(s.foldingFiles(st.Folded), JournalName) {
		if b, _, err := readFile(s.beside(name), maxJournalSize); err == nil {
			addLines(counts, b)
		}
	}
	return counts, nil
}
