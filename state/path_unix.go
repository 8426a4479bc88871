//go:build !darwin && !windows && !plan9

package state

import (
	"cmp"
	"os"
	"path/filepath"
	"strings"
)

// configHome is the rule of github.com/adrg/xdg on Unix systems:
// $XDG_CONFIG_HOME, a leading ~ or $HOME replaced by the home folder, when
// it is absolute. Importing adrg/xdg would make every program read
// <config home>/user-dirs.dirs at start, telemetry off or not.
func configHome() string {
	home := cmp.Or(os.Getenv("HOME"), "/")
	dir := os.Getenv("XDG_CONFIG_HOME")
	for _, prefix := range []string{"~", "$HOME"} {
		if rest, ok := strings.CutPrefix(dir, prefix); ok {
			dir = filepath.Join(home, rest)
			break
		}
	}
	if filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(home, ".config")
}
