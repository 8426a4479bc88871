//go:build !darwin && !windows && !plan9

package state

import (
	"cmp"
	"os"
	"path/filepath"
	"strings"
)

// configHome is the rule of github.com/adrg/xdg on Unix systems, without its
// package init, which opens files under the config home.
func configHome() string {
	home := cmp.Or(os.Getenv("HOME"), "/")
	if dir := expandHome(os.Getenv("XDG_CONFIG_HOME"), home); dir != "" && filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(home, ".config")
}

// expandHome replaces a leading ~ or $HOME, as adrg/xdg does.
func expandHome(path, home string) string {
	if rest, ok := strings.CutPrefix(path, "~"); ok {
		return filepath.Join(home, rest)
	}
	if rest, ok := strings.CutPrefix(path, "$HOME"); ok {
		return filepath.Join(home, rest)
	}
	return path
}
