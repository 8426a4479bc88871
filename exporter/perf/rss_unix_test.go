//go:build unix

package perf_test

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSSKB returns a finished process's peak resident set in kilobytes.
func maxRSSKB(ps *os.ProcessState) float64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return float64(ru.Maxrss) / 1024 // bytes there
	}
	return float64(ru.Maxrss)
}
