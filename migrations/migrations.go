// Package migrations holds the orchestrator's SQL schema as numbered tern
// migration files, embedded so the binary can apply them itself.
package migrations

import "embed"

// FS holds every migration file, named NNN_description.sql.
//
//go:embed *.sql
var FS embed.FS
