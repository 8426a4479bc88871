package state

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// writtenFile is a file as marshal writes it after a First run was sent and
// a Heartbeat queued.
func writtenFile(t testing.TB) []byte {
	on := true
	hb := t0.Add(24 * time.Hour)
	lease := hb.Add(30 * time.Second)
	st := &State{
		UserID: "6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab", TelemetryEnabled: &on, CreatedAt: t0.Add(123456789),
		Counters:        map[string]int64{"cli.version.count": 3, "feature.f10.count": 1, "feature.f9.count": 12},
		LastHeartbeatAt: &hb,
		Pending: []Event{{
			UUID: "0b0e2d63-7c58-4a55-9d0e-2b6f5e4a1c11", Event: "Heartbeat", DistinctID: "6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab", Timestamp: hb,
			Properties: map[string]any{"cli.run.count": 4, "os.family": "Linux", "os.containerized": nil, "$lib_version": "1.5.2", "libraries.gotest": false, "go.version": "go1.26.8", "os.machine": "x86_64"},
			LeaseUntil: &lease,
		}},
		Sent: []Event{{
			UUID: "1b0e2d63-7c58-4a55-9d0e-2b6f5e4a1c11", Event: "First run", DistinctID: "6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab", Timestamp: t0,
			Properties: map[string]any{"$geoip_disable": true, "$lib": "posthog-go", "libraries.idun": "0.1.0", "neg": -3},
		}},
	}
	b, err := marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The files this package writes take the quick path, and decode as yaml.v3
// decodes them.
func TestParseQuickReadsWhatMarshalWrites(t *testing.T) {
	for name, b := range map[string][]byte{
		"written": writtenFile(t),
		"plain":   []byte(plainFile),
		"new":     []byte("user_id: 6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab\ncreated_at: 2026-11-24T18:00:00Z\nlast_heartbeat_at: null\npending: []\nsent: []\n"),
		"off":     []byte("telemetry_enabled: false\nlast_heartbeat_at: null\npending: []\nsent: []\n"),
	} {
		t.Run(name, func(t *testing.T) {
			quick, ok := parseQuick(b)
			if !ok {
				t.Fatalf("declined:\n%s", b)
			}
			slow, err := parseYAML("test", b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(quick, slow) {
				t.Errorf("quick %#v\nyaml  %#v", quick, slow)
			}
		})
	}
}

// What it cannot read without doubt goes to yaml.v3.
func TestParseQuickDeclines(t *testing.T) {
	base := string(writtenFile(t))
	for name, b := range map[string]string{
		"rich file (flow style, unknown keys)": richFile,
		"comment":                              "# mine\n" + base,
		"no final newline":                     strings.TrimSuffix(base, "\n"),
		"CRLF":                                 strings.ReplaceAll(base, "\n", "\r\n"),
		"keys out of order":                    strings.Replace(plainFile, "created_at: 2026-11-24T18:00:00Z\n", "", 1) + "created_at: 2026-11-24T18:00:00Z\n",
		"duplicate key":                        plainFile + "sent: []\n",
		"unknown key":                          plainFile + "future: 1\n",
		"document marker":                      "---\n" + base,
		"quoted string":                        strings.Replace(base, "os.family: Linux", "os.family: \"Linux\"", 1),
		"offset time":                          strings.Replace(plainFile, "18:00:00Z", "18:00:00+01:00", 1),
		"boolean word":                         strings.Replace(base, "os.family: Linux", "os.family: yes", 1),
		"reserved key":                         strings.Replace(base, "os.family: Linux", "on: Linux", 1),
		"float":                                strings.Replace(base, "cli.run.count: 4", "cli.run.count: 4.5", 1),
		"hex":                                  strings.Replace(base, "cli.run.count: 4", "cli.run.count: 0x4", 1),
		"nested property":                      strings.Replace(base, "os.family: Linux", "os.family:\n            a: 1", 1),
		"two-space indent":                     strings.Replace(plainFile, "    cli", "  cli", 1),
		"empty counters":                       "counters:\nlast_heartbeat_at: null\n",
		"list in another form":                 strings.Replace(plainFile, "sent: []", "sent: [ ]", 1),
		"deeper event field":                   strings.Replace(base, "      event: Heartbeat", "       event: Heartbeat", 1),
		"trailing space in value":              strings.Replace(base, "os.family: Linux", "os.family: Linux ", 1),
	} {
		if _, ok := parseQuick([]byte(b)); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzParseQuick: whatever the quick reader accepts, yaml.v3 decodes to the
// same State.
func FuzzParseQuick(f *testing.F) {
	f.Add(writtenFile(f))
	f.Add([]byte(plainFile))
	f.Add([]byte("telemetry_enabled: false\nlast_heartbeat_at: null\npending: []\nsent: []\n"))
	f.Add([]byte("sent:\n    - uuid: a\n      event: First run\n      properties:\n        $lib: 1.5.2\n        n: -12\n        on: x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		quick, ok := parseQuick(b)
		if !ok {
			return
		}
		slow, err := parseYAML("fuzz", b)
		if err != nil {
			t.Fatalf("accepted what yaml.v3 refuses (%v):\n%q", err, b)
		}
		if !reflect.DeepEqual(quick, slow) {
			t.Fatalf("decoded differently:\n%q\nquick %#v\nyaml  %#v", b, quick, slow)
		}
	})
}

// Every short value and key over the characters that decide how YAML reads
// a scalar is read as yaml.v3 reads it, or declined.
func TestParseQuickScalarsAgreeWithYAML(t *testing.T) {
	const alphabet = "aeEfnNoOtTxXyY019 ._-+/$~:#"
	var words []string
	var grow func(prefix string, n int)
	grow = func(prefix string, n int) {
		if prefix != "" {
			words = append(words, prefix)
		}
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			grow(prefix+string(c), n-1)
		}
	}
	grow("", 3)
	words = append(words, "true", "True", "FALSE", "null", "Null", "yes", "off", "1.5.2", "0.1.0", "1..2", "1.2.", "-0", "007", "1e3", "1_000",
		"0b1", "0o7", ".inf", "-.inf", ".nan", "2026-11-24", "1:20", "go1.26.8", "First run", "a  b", "x86_64", "123456789012345678", "-123456789012345678",
		"6f1c2c8e-1d2a-4c3b-9a8e-0123456789ab", "00000000-0000-0000-0000-000000000000", "12345678-1234-1234-1234-123456789012")
	accepted := 0
	for _, w := range words {
		for _, b := range []string{
			"sent:\n    - uuid: x\n      properties:\n        k: " + w + "\n",
			"sent:\n    - uuid: x\n      properties:\n        " + w + ": v\n",
			"sent:\n    - uuid: " + w + "\n      event: " + w + "\n",
		} {
			quick, ok := parseQuick([]byte(b))
			if !ok {
				continue
			}
			accepted++
			slow, err := parseYAML("test", []byte(b))
			if err != nil || !reflect.DeepEqual(quick, slow) {
				t.Errorf("%q: quick %#v, yaml %#v (%v)", b, quick, slow, err)
			}
		}
	}
	if accepted < len(words)/10 {
		t.Errorf("only %d of %d files accepted: the test tests little", accepted, 3*len(words))
	}
}
