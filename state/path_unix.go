//go:build !darwin && !windows && !plan9

package state

import (
	"cmp"
	"os"
	"path/filepath"
	"strings"
)

// configHome is the rule of github.com/adrg/xdg on Unix systems, without its
// package init, which opens files under the config home: $XDG_CONFIG_HOME,
// a leading ~ or $HOME replaced by the home folder, when it is absolute.
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
