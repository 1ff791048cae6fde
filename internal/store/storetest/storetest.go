// Package storetest gives tests a real, freshly migrated PostgreSQL
// database each. The schema is migrated once into a template database (named
// after a hash of the migrations, so a schema change gets a new template) and
// every test clones it, which takes a fraction of a second.
//
// The server comes from TEST_DATABASE_URL, or the local default
// postgres://postgres@127.0.0.1:5432/postgres. When no server answers, tests
// fail with instructions; they never skip.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pcupgrade/orchestrator/internal/store"
	"github.com/pcupgrade/orchestrator/migrations"
)

// DefaultURL is the server tests use when TEST_DATABASE_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// riverSchemaTag changes when River's migrations change (a River upgrade).
const riverSchemaTag = "river-v0.51.1"

const templateLockKey = int64(0x6f7263682d746d70) // "orch-tmp"

// ServerURL returns the URL of the PostgreSQL server used by tests.
func ServerURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// NewDatabase creates a fresh migrated database for the test, drops it when
// the test ends, and returns its URL.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	admin := connectAdmin(ctx, tb)
	defer admin.Close(ctx)

	tmpl, err := ensureTemplate(ctx, admin)
	if err != nil {
		tb.Fatalf("storetest: prepare template database: %v", err)
	}

	name := "orchestrator_test_" + randomHex(6)
	var lastErr error
	for range 50 {
		if _, lastErr = admin.Exec(ctx, fmt.Sprintf(`create database %s template %s`, name, tmpl)); lastErr == nil {
			break
		}
		// Another process may be connected to the template for a moment.
		if !strings.Contains(lastErr.Error(), "being accessed by other users") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if lastErr != nil {
		tb.Fatalf("storetest: create database %s: %v", name, lastErr)
	}
	tb.Cleanup(func() {
		ctx := context.Background()
		c := connectAdmin(ctx, tb)
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, fmt.Sprintf(`drop database if exists %s with (force)`, name)); err != nil {
			tb.Errorf("storetest: drop database %s: %v", name, err)
		}
	})
	return withDatabaseURL(ServerURL(), name)
}

// NewPool creates a fresh migrated database for the test and returns a pool
// on it, closed when the test ends.
func NewPool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), NewDatabase(tb))
	if err != nil {
		tb.Fatalf("storetest: open pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

func connectAdmin(ctx context.Context, tb testing.TB) *pgx.Conn {
	tb.Helper()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, ServerURL())
	if err != nil {
		tb.Fatalf("storetest: no PostgreSQL answers at %s: %v\n"+
			"Tests need a real PostgreSQL server. Start the local one with\n"+
			"  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"+
			"(or run `make test`, which starts it), or point TEST_DATABASE_URL at a server\n"+
			"where the user may create databases.", redact(ServerURL()), err)
	}
	return conn
}

// ensureTemplate returns the name of the migrated template database for the
// current schema, creating it under an advisory lock if it is missing.
func ensureTemplate(ctx context.Context, admin *pgx.Conn) (string, error) {
	sum, err := schemaHash()
	if err != nil {
		return "", err
	}
	name := "orchestrator_tmpl_" + sum[:12]

	if _, err := admin.Exec(ctx, `select pg_advisory_lock($1)`, templateLockKey); err != nil {
		return "", err
	}
	defer func() { _, _ = admin.Exec(ctx, `select pg_advisory_unlock($1)`, templateLockKey) }()

	var ready bool
	err = admin.QueryRow(ctx, `select datistemplate from pg_database where datname = $1`, name).Scan(&ready)
	switch {
	case err == nil && ready:
		return name, nil
	case err == nil:
		// Left half-built by an interrupted run.
		if _, err := admin.Exec(ctx, fmt.Sprintf(`drop database %s with (force)`, name)); err != nil {
			return "", err
		}
	case err != pgx.ErrNoRows:
		return "", err
	}

	if _, err := admin.Exec(ctx, fmt.Sprintf(`create database %s`, name)); err != nil {
		return "", err
	}
	pool, err := pgxpool.New(ctx, withDatabaseURL(ServerURL(), name))
	if err != nil {
		return "", err
	}
	_, err = store.Migrate(ctx, pool)
	pool.Close()
	if err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, fmt.Sprintf(`alter database %s is_template true`, name)); err != nil {
		return "", err
	}
	return name, nil
}

func schemaHash() (string, error) {
	h := sha256.New()
	h.Write([]byte(riverSchemaTag))
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hash migrations: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func withDatabaseURL(server, name string) string {
	u, err := url.Parse(server)
	if err != nil {
		return server
	}
	u.Path = "/" + name
	return u.String()
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
