//go:build !darwin && !windows && !plan9

package state

import (
	"os"
	"path/filepath"
	"strings"
)

// configHome is the rule of github.com/adrg/xdg on Unix systems, without its
// package init, which opens files under the config home.
func configHome() string {
	home := os.Getenv("HOME")
	if home == "" {
		home = "/"
	}
	if dir := expandHome(os.Getenv("XDG_CONFIG_HOME"), home); dir != "" && filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(home, ".config")
}

// expandHome replaces a leading ~ or $HOME, as adrg/xdg does.
func expandHome(path, home string) string {
	switch {
	case path == "":
		return path
	case path[0] == '~':
		return filepath.Join(home, path[1:])
	case strings.HasPrefix(path, "$HOME"):
		return filepath.Join(home, path[len("$HOME"):])
	}
	return path
}
