package telemetrycmd_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/Idun-Group/idun-telemetry-go/exporter"
	"github.com/Idun-Group/idun-telemetry-go/exporter/telemetrycmd"
)

// A CLI named acme hands "acme telemetry ..." to the command. Here the
// state file lives in a temporary folder.
func Example() {
	dir, _ := os.MkdirTemp("", "telemetrycmd-example")
	defer os.RemoveAll(dir)
	opts := []exporter.Option{
		exporter.WithApp("acme"), // ACME_TELEMETRY_ENABLED, libraries.acme
		exporter.WithConfigPath(filepath.Join(dir, "config.yaml")),
	}
	args := []string{"telemetry", "disable"} // os.Args[1:]

	var stdout bytes.Buffer
	if args[0] == "telemetry" {
		code := telemetrycmd.Run(context.Background(), args[1:], &stdout, os.Stderr, opts...)
		fmt.Println("exit", code)
	}
	fmt.Print(strings.ReplaceAll(stdout.String(), dir, "$DIR"))
	// Output:
	// exit 0
	// Telemetry disabled: telemetry_enabled: false saved in $DIR/config.yaml
}

// The help of one subcommand, for a CLI whose help command shows it.
func ExampleCommand_Usage() {
	cmd := telemetrycmd.Command{Name: "acme telemetry", Options: []exporter.Option{exporter.WithApp("acme")}}
	_ = cmd.Usage(os.Stdout, "disable")
	// Output:
	// Usage: acme telemetry disable [--json]
	//
	// Set telemetry_enabled: false in the state file. ACME_TELEMETRY_ENABLED=false,
	// DO_NOT_TRACK=1 or OTEL_SDK_DISABLED=true still turn telemetry off.
	//
	// Flags:
	//   --json  print the state of telemetry after the change as one JSON object
}
