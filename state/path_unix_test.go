//go:build !darwin && !windows && !plan9

package state

import (
	"testing"

	"github.com/adrg/xdg"
)

// configHome follows github.com/adrg/xdg's rule, which it replaces on Unix
// to keep adrg/xdg's package init out of every program.
func TestConfigHomeIsXDGs(t *testing.T) {
	for _, tc := range []struct{ home, xdgHome string }{
		{"/home/u", ""},
		{"/home/u", "/etc/cfg"},
		{"/home/u", "relative/cfg"},
		{"/home/u", "~/cfg"},
		{"/home/u", "~"},
		{"/home/u", "$HOME/cfg"},
		{"/home/u", "$HOMEcfg"},
		{"/home/u", "/"},
	} {
		t.Setenv("HOME", tc.home)
		t.Setenv("XDG_CONFIG_HOME", tc.xdgHome)
		xdg.Reload()
		if got, want := configHome(), xdg.ConfigHome; got != want {
			t.Errorf("HOME=%s XDG_CONFIG_HOME=%q: configHome() = %s, adrg/xdg says %s", tc.home, tc.xdgHome, got, want)
		}
	}
}
