package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/bankgate/bankgate/postgres"
	"github.com/bankgate/bankgate/sqlite"
)

// migration is one row of `bankgate migrate status`.
type migration struct {
	Version   int        `json:"version"`
	Name      string     `json:"name,omitempty"` // "" when this bankgate does not know it
	AppliedAt *time.Time `json:"appliedAt,omitempty"`
}

// schemaStatus is what `bankgate migrate status` reports.
type schemaStatus struct {
	Store      string      `json:"store"` // sqlite or postgres
	Database   string      `json:"database,omitempty"`
	Known      int         `json:"known"`   // this build's highest version
	Applied    int         `json:"applied"` // the store's highest version
	Pending    int         `json:"pending"` // known and not applied
	State      string      `json:"state"`   // up-to-date, pending, newer, empty
	Migrations []migration `json:"migrations"`
}

func cmdMigrateStatus(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("migrate status [--json]", "Show the schema migrations this bankgate knows and those applied to the store, without\nchanging it. Fails when the store's schema is newer than this bankgate knows (it then\nrefuses to start on it): run the newer version, or restore a backup from before the upgrade.", &cfg, env, stderr, "data-dir", "database-url")
	if err != nil {
		return err
	}
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("migrate status: unexpected argument %q", fs.Arg(0))
	}
	st, err := readSchemaStatus(ctx, cfg)
	if err != nil {
		return fmt.Errorf("migrate status: %w", err)
	}
	if *asJSON {
		if err := json.NewEncoder(stdout).Encode(st); err != nil {
			return err
		}
	} else {
		printSchemaStatus(stdout, st)
	}
	if st.State == "newer" {
		return fmt.Errorf("migrate status: the store's schema (version %d) is newer than this bankgate knows (%d)", st.Applied, st.Known)
	}
	return nil
}

// readSchemaStatus reads the configured store's migrations without
// changing (or, for SQLite, creating) anything.
func readSchemaStatus(ctx context.Context, cfg Config) (*schemaStatus, error) {
	st := &schemaStatus{Migrations: []migration{}}
	add := func(version int, name string, at time.Time) {
		m := migration{Version: version, Name: name}
		if !at.IsZero() {
			at := at
			m.AppliedAt = &at
			st.Applied = max(st.Applied, version)
		}
		if name != "" {
			st.Known = max(st.Known, version)
			if at.IsZero() {
				st.Pending++
			}
		}
		st.Migrations = append(st.Migrations, m)
	}
	if cfg.DatabaseURL != "" {
		st.Store = "postgres"
		ms, err := postgres.Status(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			add(m.Version, m.Name, m.AppliedAt)
		}
	} else {
		if err := requireStore(cfg); err != nil {
			return nil, err
		}
		st.Store, st.Database = "sqlite", sqlitePath(cfg)
		ms, err := sqlite.Status(ctx, st.Database)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			add(m.Version, m.Name, m.AppliedAt)
		}
	}
	switch {
	case st.Applied > st.Known:
		st.State = "newer"
	case st.Applied == 0:
		st.State = "empty"
	case st.Pending > 0:
		st.State = "pending"
	default:
		st.State = "up-to-date"
	}
	return st, nil
}

func printSchemaStatus(w io.Writer, st *schemaStatus) {
	where := st.Store
	if st.Database != "" {
		where += " " + st.Database
	}
	fmt.Fprintf(w, "store: %s\n\n", where)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tMIGRATION\tAPPLIED")
	for _, m := range st.Migrations {
		name, at := m.Name, "pending"
		if name == "" {
			name = "(unknown to this bankgate)"
		}
		if m.AppliedAt != nil {
			at = m.AppliedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, name, at)
	}
	tw.Flush()
	fmt.Fprintln(w)
	switch st.State {
	case "up-to-date":
		fmt.Fprintf(w, "schema version %d: up to date\n", st.Applied)
	case "empty":
		fmt.Fprintf(w, "no migrations applied: %d will be applied when bankgate serve (or bankgate migrate, for PostgreSQL) first opens the store\n", st.Pending)
	case "pending":
		fmt.Fprintf(w, "schema version %d: %d migration(s) pending, applied when this bankgate's serve (or bankgate migrate, for PostgreSQL) opens the store\n", st.Applied, st.Pending)
	case "newer":
		fmt.Fprintf(w, "schema version %d is NEWER than this bankgate knows (%d): a newer bankgate has migrated the store, and this one refuses to start on it\n", st.Applied, st.Known)
	}
}
