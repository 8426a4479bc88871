package state

import "path/filepath"

// DefaultApp is the folder name used under the XDG config home when the
// caller names none.
const DefaultApp = "idun"

// FileName is the state file's name inside the application folder.
const FileName = "config.yaml"

// DefaultPath returns <XDG config home>/<app>/config.yaml. It only computes
// the path: unlike xdg.ConfigFile it creates no folder, so asking where the
// file would be never changes the disk.
//
// The config home follows github.com/adrg/xdg: $XDG_CONFIG_HOME when it is an
// absolute path, else ~/.config on Linux and other Unix systems,
// ~/Library/Application Support on macOS and %LOCALAPPDATA% on Windows. On
// Linux and other Unix systems it is worked out here, from the environment
// at each call, because importing adrg/xdg there makes every program read
// <config home>/user-dirs.dirs when it starts, telemetry off or not. On macOS
// and Windows adrg/xdg reads the environment once, when the program starts;
// a test that changes XDG_CONFIG_HOME or HOME there must call xdg.Reload
// first.
func DefaultPath(app string) string {
	if app == "" {
		app = DefaultApp
	}
	return filepath.Join(configHome(), app, FileName)
}
