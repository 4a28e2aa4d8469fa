// Package pgtest gives tests an isolated PostgreSQL schema on the database
// named by BANKGATE_TEST_DATABASE_URL.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BaseURL returns the test database URL, or skips the test when
// BANKGATE_TEST_DATABASE_URL is unset.
func BaseURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("BANKGATE_TEST_DATABASE_URL")
	if u == "" {
		tb.Skip("BANKGATE_TEST_DATABASE_URL not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable); skipping PostgreSQL tests")
	}
	return u
}

// SchemaURL creates an empty schema bgtest_<random>, drops it when the
// test ends (after anything started later has stopped), and returns the
// test URL with search_path set to it.
func SchemaURL(tb testing.TB) string {
	tb.Helper()
	base := BaseURL(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "bgtest_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to BANKGATE_TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("parse BANKGATE_TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
