// Package telemetrycmd is a ready "telemetry" command for a CLI that counts
// its usage with package exporter: status, enable, disable and reset, each
// with --json, over exporter.Status, exporter.SetEnabled and exporter.Reset.
// It never sends anything, counts nothing and queues no First run, so a CLI
// runs it without starting an exporter.
//
//	$ idun telemetry status
//	Telemetry:       on (on by default)
//	Decided by:      default
//	State file:      /home/me/.config/idun/config.yaml
//	...
//	$ idun telemetry disable
//	Telemetry disabled: telemetry_enabled: false saved in /home/me/.config/idun/config.yaml
//
// Give it the exporter options the program gives exporter.New (WithApp or
// WithConfigPath decide the state file) and the arguments after
// "telemetry". It parses them with the standard flag package, writes
// results and help to stdout and errors to stderr, and returns the exit
// code: 0, 1 when the state file could not be changed, 2 for a usage error.
//
// With the standard library, dispatch to it from main (examples/cli does):
//
//	if len(args) > 0 && args[0] == "telemetry" {
//		cmd := telemetrycmd.Command{Name: "acme telemetry", Options: telemetryOptions}
//		os.Exit(cmd.Run(ctx, args[1:], os.Stdout, os.Stderr))
//	}
//
// With github.com/spf13/cobra, hand it every argument, flags and -h
// included:
//
//	telemetry := &cobra.Command{
//		Use:                "telemetry status|enable|disable|reset [--json]",
//		Short:              "Show or change usage telemetry",
//		DisableFlagParsing: true, // telemetrycmd parses its own flags
//		RunE: func(cmd *cobra.Command, args []string) error {
//			c := telemetrycmd.Command{Name: cmd.CommandPath(), Options: telemetryOptions}
//			if code := c.Run(cmd.Context(), args, cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
//				cmd.SilenceUsage, cmd.SilenceErrors = true, true // already printed
//				return fmt.Errorf("telemetry: exit status %d", code)
//			}
//			return nil
//		},
//	}
//	root.AddCommand(telemetry)
//
// With github.com/urfave/cli/v3:
//
//	&cli.Command{
//		Name:            "telemetry",
//		Usage:           "show or change usage telemetry",
//		SkipFlagParsing: true, // telemetrycmd parses its own flags
//		Action: func(ctx context.Context, cmd *cli.Command) error {
//			c := telemetrycmd.Command{Name: "acme telemetry", Options: telemetryOptions}
//			if code := c.Run(ctx, cmd.Args().Slice(), os.Stdout, os.Stderr); code != 0 {
//				return cli.Exit("", code)
//			}
//			return nil
//		},
//	}
//
// The help of the whole command and of each subcommand is Command.Usage, for
// a CLI whose own help command lists them.
package telemetrycmd
