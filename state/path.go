package state

import "path/filepath"

// DefaultApp is the folder name used under the XDG config home when the
// caller names none.
const DefaultApp = "idun"

// FileName is the state file's name inside the application folder.
const FileName = "config.yaml"

// DefaultPath returns <XDG config home>/<app>/config.yaml, and creates
// nothing. The config home follows github.com/adrg/xdg: $XDG_CONFIG_HOME
// when it is an absolute path, else ~/.config on Unix, ~/Library/Application
// Support on macOS and %LOCALAPPDATA% on Windows. On Unix it is worked out
// here at each call: importing adrg/xdg makes every program read
// <config home>/user-dirs.dirs at start, telemetry off or not. On macOS and
// Windows adrg/xdg reads the environment once (tests call xdg.Reload).
func DefaultPath(app string) string {
	if app == "" {
		app = DefaultApp
	}
	return filepath.Join(configHome(), app, FileName)
}
