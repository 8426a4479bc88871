package state

import (
	"path/filepath"

	"github.com/adrg/xdg"
)

// DefaultApp is the folder name used under the XDG config home when the
// caller names none.
const DefaultApp = "idun"

// FileName is the state file's name inside the application folder.
const FileName = "config.yaml"

// DefaultPath returns <XDG config home>/<app>/config.yaml. It only computes
// the path: unlike xdg.ConfigFile it creates no folder, so asking where the
// file would be never changes the disk.
//
// xdg reads the environment once, when the program starts; a test that
// changes XDG_CONFIG_HOME or HOME must call xdg.Reload first.
func DefaultPath(app string) string {
	if app == "" {
		app = DefaultApp
	}
	return filepath.Join(xdg.ConfigHome, app, FileName)
}
