package state

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Names of the files beside config.yaml.
const (
	JournalName = "counts.journal"
	BriefName   = "config.brief.json"
	foldSuffix  = ".folding"
)

// maxJournalSize bounds what is read of one journal file, about half a
// million runs' worth.
const maxJournalSize = 16 << 20

// errJournalBusy: folds kept taking the journal away from an appender.
var errJournalBusy = errors.New("state: journal busy")

// JournalPath returns the path of the journal beside the state file.
func (s *Store) JournalPath() string { return s.beside(JournalName) }

// Add appends counts to the journal with one write, under no lock another
// appender can hold. It never reads or writes config.yaml; the caller
// checks that telemetry is on.
func (s *Store) Add(counts map[string]int64) error {
	if len(counts) == 0 {
		return nil
	}
	line, err := json.Marshal(counts)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	path := s.JournalPath()
	for range 8 {
		f, err := openAppend(path, true)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(s.beside(""), 0o700); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if done, err := appendTo(f, path, line); done || err != nil {
			return err
		}
	}
	return errJournalBusy
}

// appendTo writes line to f, an open journal, and closes it. done is false
// when f stopped being the journal at path (a fold took it): the caller
// opens the journal again.
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
	_, err = f.Write(line)
	return true, err
}

// isAt reports whether f is still the file at path.
func isAt(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// takeJournal adds the journal's counts to st's, and returns the folding
// files consumed, which st.Folded now names. The caller holds the lock on
// config.yaml.
func (s *Store) takeJournal(st *State) []string {
	// What the last fold recorded was added already: those files go before
	// this write forgets them.
	for _, name := range st.Folded {
		_ = removeFile(s.beside(name))
	}
	st.Folded = nil
	// A new name of the journal's own, so that a fold cut short and the
	// next one never take one file for another.
	_ = renameFile(s.JournalPath(), s.beside("counts."+uuid.NewString()+foldSuffix))
	for _, name := range s.foldingFiles(nil) {
		counts, ok := drain(s.beside(name))
		if !ok {
			continue // an appender is stuck on it: the next fold takes it
		}
		if len(counts) > 0 && st.Counters == nil {
			st.Counters = make(map[string]int64, len(counts))
		}
		for name, n := range counts {
			st.Counters[name] = saturatingAdd(st.Counters[name], n)
		}
		st.Folded = append(st.Folded, name)
	}
	return st.Folded
}

// foldingFiles lists the folding files beside config.yaml but those in
// skip.
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

// drainWait bounds a fold's wait for an appender still writing to a folding
// file: appenders hold it for one write, so a longer one is stuck.
const drainWait = 100 * time.Millisecond

// drain waits until no appender writes to the folding file at path, then
// sums its lines.
func drain(path string) (map[string]int64, bool) {
	f, err := openAppend(path, false)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), drainWait)
	defer cancel()
	if ok, _ := poll(ctx, func() (bool, error) { return lockJournal(f, true) }); !ok {
		return nil, false
	}
	defer unlockJournal(f)
	b, _, err := readFile(path, maxJournalSize)
	if err != nil {
		return nil, false
	}
	counts := map[string]int64{}
	addLines(counts, b)
	return counts, true
}

// addLines adds each whole line of a journal to counts. A line that does not
// decode (a hand edit, a write cut by a power loss) is skipped.
func addLines(counts map[string]int64, b []byte) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, maxJournalSize)
	for sc.Scan() {
		var line map[string]int64
		if json.Unmarshal(sc.Bytes(), &line) != nil {
			continue
		}
		for name, n := range line {
			if n > 0 {
				counts[name] = saturatingAdd(counts[name], n)
			}
		}
	}
}

// Counts returns every count not yet in an event: config.yaml's counters,
// the journal's and those of folding files no fold has recorded. It takes
// no lock and writes nothing.
func (s *Store) Counts() (map[string]int64, error) {
	st, err := s.Load()
	if errors.Is(err, fs.ErrNotExist) {
		st, err = &State{}, nil
	}
	if err != nil {
		return nil, err
	}
	counts := make(map[string]int64, len(st.Counters))
	for name, n := range st.Counters {
		counts[name] = n
	}
	for _, name := range append(s.foldingFiles(st.Folded), JournalName) {
		if b, _, err := readFile(s.beside(name), maxJournalSize); err == nil {
			addLines(counts, b)
		}
	}
	return counts, nil
}
