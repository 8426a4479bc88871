//go:build darwin || windows || plan9

package state

import "github.com/adrg/xdg"

// configHome is adrg/xdg's config home, read when the program started.
func configHome() string { return xdg.ConfigHome }
