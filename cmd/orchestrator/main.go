// Command orchestrator moves Microsoft CSP customers through Partner Center
// upgrades in bulk: import a CSV batch, let the workers create and follow
// each upgrade, and read the outcome per customer and line item.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/cobra"

	"github.com/pcupgrade/orchestrator/internal/config"
	"github.com/pcupgrade/orchestrator/internal/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "orchestrator:", err)
		os.Exit(1)
	}
}

// env is what every command gets from main.
type env struct {
	getenv     func(string) string
	stdout     io.Writer
	stderr     io.Writer
	configPath *string
}

// config loads the configuration of the --config file and the environment.
func (e *env) config() (config.Config, error) {
	return config.Load(*e.configPath, e.getenv)
}

// connect loads the configuration and opens a pool of at most maxConns
// connections; the caller closes the pool.
func (e *env) connect(ctx context.Context, maxConns int32) (config.Config, *pgxpool.Pool, error) {
	cfg, err := e.config()
	if err != nil {
		return config.Config{}, nil, err
	}
	pool, err := service.Connect(ctx, cfg.DatabaseURL, maxConns)
	if err != nil {
		return config.Config{}, nil, err
	}
	return cfg, pool, nil
}

// logger returns a JSON logger on stderr at the configured level.
func (e *env) logger(cfg config.Config) *slog.Logger {
	lvl, _ := cfg.Log.SlogLevel()
	return slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: lvl}))
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var configPath string
	e := &env{getenv: getenv, stdout: stdout, stderr: stderr, configPath: &configPath}
	root := &cobra.Command{
		Use:           "orchestrator",
		Short:         "Bulk Partner Center upgrades that never lose or double work",
		Version:       version(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&configPath, "config", "", "YAML configuration file (see config.example.yaml)")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetArgs(args)
	root.AddCommand(
		migrateCmd(e), importCmd(e), serveCmd(e), statusCmd(e), reportCmd(e), batchCmd(e), historyCmd(e),
		simulateCmd(e), demoCmd(e),
	)
	return root.ExecuteContext(ctx)
}

// version is the module version or VCS revision the binary was built from.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return s.Value[:12]
		}
	}
	return bi.Main.Version
}
