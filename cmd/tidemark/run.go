package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/tidemark-cdc/tidemark/daemon"
)

func loadConfig(path string) (*daemon.Config, error) {
	cfg, err := daemon.LoadConfig(path, nil)
	if err != nil {
		var ce *daemon.ConfigError
		if errors.As(err, &ce) {
			return nil, &exitError{code: 2, err: fmt.Errorf("invalid configuration:\n%w", err)}
		}
		return nil, &exitError{code: 2, err: err}
	}
	return cfg, nil
}

func newLogger(format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: want text or json, got %q", format)
}

func runCmd() *cobra.Command {
	var file, logFormat, logLevel string
	cmd := &cobra.Command{
		Use:   "run -c FILE",
		Short: "Run the daemon: one pipeline per configured shard, plus the admin endpoint",
		Long: `Run the daemon: every configured shard's binlog is streamed into one
compacted Kafka topic per logical table. SIGTERM or SIGINT drains the
pipelines and commits their positions before exit. Exit status 2 means the
configuration is invalid; 1 that the daemon stopped on an error (for
example every shard failed on a terminal error: see the log or /status).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(logFormat, logLevel)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			cfg, err := loadConfig(file)
			if err != nil {
				return err
			}
			d, err := daemon.New(cfg, log, version)
			if err != nil {
				return err
			}
			// SIGHUP re-reads the file and applies allow-list changes to
			// the shards they concern (daemon.Reload); a file that does
			// not validate changes nothing.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for {
					select {
					case <-cmd.Context().Done():
						return
					case <-hup:
						next, err := daemon.LoadConfig(file, nil)
						if err != nil {
							log.Error("SIGHUP: the configuration does not validate; nothing changed", "error", err.Error())
							continue
						}
						log.Info("SIGHUP: configuration re-read", "file", file)
						d.Reload(next)
					}
				}
			}()
			return d.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "configuration file (YAML; see configs/tidemark.example.yaml)")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

func validateCmd() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "validate -c FILE",
		Short: "Check a configuration file and print what it would run",
		Long: `Check a configuration file: unknown keys, wrong types, missing or
invalid values and unset password variables are reported with file, line
and key, all at once; insecure settings (a password sent in clear text,
certificate verification off) are printed as warnings on stderr. Nothing
is contacted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(file)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "%s: valid\n", file)
			for _, w := range cfg.Warnings() {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", w)
			}
			d := cfg.Topics.Delimiter
			fmt.Fprintf(out, "kafka %s, registry %s, topics %s\n",
				strings.Join(cfg.Kafka.Brokers, ","), daemon.RedactURL(cfg.Registry.URL), cfg.Topics.Prefix+d+"<database>"+d+"<table>")
			fmt.Fprintf(out, "admin %s, %s, pprof %s\n", cfg.Admin.Listen, adminToken(cfg.Admin), onOff(cfg.Admin.Pprof))
			for _, s := range cfg.Shards {
				var tables []string
				for _, t := range s.Tables {
					tables = append(tables, fmt.Sprintf("%s.{%s}", t.Database, strings.Join(orAll(t.Include), ",")))
				}
				fmt.Fprintf(out, "shard %s: %s %s as %s (server_id %d), tables %s\n",
					s.Name, s.Flavor, strings.Join(s.Addrs(), ", then "), s.User, s.ServerID, strings.Join(tables, " "))
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "config", "c", "", "configuration file")
	_ = cmd.MarkFlagRequired("config")
	return cmd
}

func adminToken(a daemon.AdminConfig) string {
	if a.TokenEnv == "" {
		return "no token"
	}
	return "token from $" + a.TokenEnv
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func orAll(p []string) []string {
	if len(p) == 0 {
		return []string{"*"}
	}
	return p
}
