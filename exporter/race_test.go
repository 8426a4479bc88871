//go:build race

package exporter_test

// raceEnabled turns the timing checks of TestOverheadSmoke off: the race
// detector slows code unevenly.
const raceEnabled = true
