//go:build linux

package perf_test

import (
	"os"
	"os/exec"
	"path/filepath"
)

// rssHelperSource runs its arguments as a command, stdout discarded, and
// prints the command's peak resident set in kilobytes. The test process
// cannot measure that itself: Go starts a child with vfork sharing the
// parent's memory, and Linux takes the memory's high-water mark at exec as
// the child's starting peak, so every child of a large test process would
// report the test process's resident set. This helper is a small Go
// program, whose own resident set is far below the CLI's.
const rssHelperSource = `package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

func main() {
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)
}
`

// buildRSSHelper builds the helper into dir and returns its path.
func buildRSSHelper(dir string) (string, error) {
	src := filepath.Join(dir, "rsshelper.go")
	if err := os.WriteFile(src, []byte(rssHelperSource), 0o600); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "rsshelper")
	build := exec.Command(goTool(), "build", "-o", bin, src)
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		return "", &buildError{err, out}
	}
	return bin, nil
}
