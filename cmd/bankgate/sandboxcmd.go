package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

func cmdSandboxUsersAdd(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("sandbox users add --bank BANK --file FILE", "Add a sandbox user from a JSON fixture (format: see sandbox/doc.go and\nsandbox/testdata/fixture_example.json); a fixture for an existing username replaces it.\nRunning servers on the same store pick it up within a second.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	bankID := fs.String("bank", "", "the sandbox bank ID, e.g. SANDBOX_AE_ENBD (may be omitted when the fixture names its bank)")
	file := fs.String("file", "", "the fixture file (required)")
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if *file == "" {
		return errors.New("sandbox users add: --file is required")
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return fmt.Errorf("sandbox users add: %w", err)
	}
	if err := a.sandbox.AddFixture(ctx, *bankID, data); err != nil {
		return fmt.Errorf("sandbox users add: %w", err)
	}
	fmt.Fprintf(stdout, "sandbox user added from %s\n", *file)
	return nil
}
