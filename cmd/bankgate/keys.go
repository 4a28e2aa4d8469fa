package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/secret"
	"github.com/bankgate/bankgate/service"
)

const keysUsage = "keys: the commands are: bankgate keys status | rotate [--staged] | promote ID | retire ID [--force]"

func cmdKeys(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(keysUsage)
	}
	switch args[0] {
	case "status":
		return cmdKeysStatus(ctx, args[1:], env, stdout, stderr)
	case "rotate":
		return cmdKeysRotate(ctx, args[1:], env, stdout, stderr)
	case "promote":
		return cmdKeysPromote(ctx, args[1:], env, stdout, stderr)
	case "retire":
		return cmdKeysRetire(ctx, args[1:], env, stdout, stderr)
	}
	return fmt.Errorf("keys: unknown subcommand %q; %s", args[0], keysUsage)
}

// keyArg splits the one positional key ID from the flags, wherever it is.
func keyArg(args []string) (string, []string) {
	for i, a := range args {
		if !strings.HasPrefix(a, "-") && (i == 0 || !strings.HasPrefix(args[i-1], "-") || strings.Contains(args[i-1], "=") || args[i-1] == "--force" || args[i-1] == "-force") {
			return a, append(slices.Clone(args[:i]), args[i+1:]...)
		}
	}
	return "", args
}

// keyFileFor returns the key file a keys command may rewrite.
func keyFileFor(a *app, cmd string) (string, error) {
	if a.keyFile == "" {
		return "", fmt.Errorf("keys %s: the server key is given inline (hex:...); give --secret-key-file a file instead, so the command can write the new key list", cmd)
	}
	return a.keyFile, nil
}

func cmdKeysStatus(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("keys status", "Show the server keys (of the key file and the store) and how many stored values each still\nprotects: apps (appSecret digests), linked connections (userSecret digests and sealed sessions),\nunrevoked tokens and unused access codes. Values move to the primary key on their next use.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	st, err := service.KeysStatus(ctx, a.store, a.keys, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("keys status: %w", err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tROLE\tADDED\tAPPS\tCONNECTIONS\tTOKENS\tCODES")
	for _, k := range st {
		role := "verifies"
		switch {
		case k.Primary:
			role = "primary"
		case k.Staged:
			role = "staged"
		case k.Retired && k.ID == secret.OriginalKeyID && k.InKeyring:
			role = "retired (derives userIDs)"
		case k.Retired:
			role = "retired"
		case !k.InKeyring:
			role = "not in key file"
		}
		added := "-"
		if !k.CreatedAt.IsZero() {
			added = k.CreatedAt.Format(time.RFC3339)
		}
		if k.Retired {
			fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\t-\t-\n", k.ID, role, added)
			continue
		}
		u := k.Usage
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\n", k.ID, role, added, u.Apps, u.Connections, u.Tokens, u.Codes)
	}
	return tw.Flush()
}

func cmdKeysRotate(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	fs, err := newFlagSet("keys rotate [--staged]", "Make a new server key, record its check value in the store and write it to the key file as the\nprimary: new digests and sealed values use it; older keys keep verifying, and what they protect\nmoves to the new key on its next use. Restart the server(s) with the new key file.\nWith --staged the new key is added marked staged, verifying only: give every instance the file\nfirst, then make it primary with keys promote (see docs/security.md).", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	staged := fs.Bool("staged", false, "add the new key as a verifying key, not the primary")
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	path, err := keyFileFor(a, "rotate")
	if err != nil {
		return err
	}
	id, err := service.NextKeyID(ctx, a.store, a.keys)
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	nk := secret.Key{ID: id, Secret: secret.NewKey(), Staged: *staged}
	keys := a.keys.Keys()
	if !*staged {
		for i := range keys {
			keys[i].Staged = false
		}
	}
	keys = slices.Insert(keys, 0, nk) // newest first
	// The file first: a key the store knows but no file holds would stop
	// every server from starting.
	if err := writeKeyFile(path, keys); err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	if err := a.store.AddServerKey(ctx, &bankgate.ServerKey{ID: id, Check: secret.CheckValue(nk), CreatedAt: time.Now().UTC()}); err != nil {
		return fmt.Errorf("keys rotate: wrote key %s to %s but could not record it in the store (the next start records it): %w", id, path, err)
	}
	if *staged {
		fmt.Fprintf(stdout, "Added server key %s to %s as a verifying key; %s stays primary.\nGive every instance this file and restart it, then run: bankgate keys promote %s\n", id, path, a.keys.Primary(), id)
	} else {
		fmt.Fprintf(stdout, "Server key %s is the new primary in %s; older keys keep verifying.\nRestart the server(s) with this file. Watch old values move with: bankgate keys status\n", id, path)
	}
	if inDir(path, cfg.DataDir) {
		fmt.Fprintf(stdout, "Note: the key file is inside the data directory, so a backup of the data directory carries it; in production give --secret-key-file a path outside it.\n")
	}
	return nil
}

func inDir(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	return err1 == nil && err2 == nil && strings.HasPrefix(p, d+string(filepath.Separator))
}

func cmdKeysPromote(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	id, args := keyArg(args)
	fs, err := newFlagSet("keys promote ID", "Make the key ID (added with keys rotate --staged) the primary in the key file.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	path, err := keyFileFor(a, "promote")
	if err != nil {
		return err
	}
	keys := a.keys.Keys()
	i := slices.IndexFunc(keys, func(k secret.Key) bool { return k.ID == id && !k.Retired })
	if i < 0 {
		return fmt.Errorf("keys promote: no key %q in use in %s", id, path)
	}
	// The file lists keys newest first; keys newer than the new primary
	// become staged (they keep verifying, and what they made stays).
	for j := range keys {
		keys[j].Staged = j < i && !keys[j].Retired
	}
	if err := writeKeyFile(path, keys); err != nil {
		return fmt.Errorf("keys promote: %w", err)
	}
	fmt.Fprintf(stdout, "Server key %s is the primary in %s. Restart the server(s) with this file.\n", id, path)
	return nil
}

func cmdKeysRetire(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	var cfg Config
	id, args := keyArg(args)
	fs, err := newFlagSet("keys retire ID [--force]", "Stop trusting the older server key ID: record it retired in the store and drop it from the key\nfile (the original key k1 stays there marked retired: it only derives userIDs). Refused while\nstored values still depend on the key (see keys status); --force revokes them instead:\ntheir connections are delinked, their tokens revoked, their access codes expired and their\napps' secrets voided (give those apps new ones with apps rotate-secret), all audited.", &cfg, env, stderr, "data-dir", "database-url", "secret-key-file")
	if err != nil {
		return err
	}
	force := fs.Bool("force", false, "revoke what still depends on the key")
	a, err := openForCommand(ctx, fs, &cfg, args, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	if id == "" {
		return errors.New("keys retire: give the key ID, e.g. bankgate keys retire k1")
	}
	path, err := keyFileFor(a, "retire")
	if err != nil {
		return err
	}
	u, err := service.RetireKey(ctx, a.store, a.keys, id, *force, time.Now().UTC())
	if bankgate.IsCode(err, bankgate.Conflict) {
		return fmt.Errorf("keys retire: key %s still protects %d apps, %d connections, %d tokens and %d access codes; "+
			"they move to the primary key on their next use (watch keys status), or --force revokes them", id, u.Apps, u.Connections, u.Tokens, u.Codes)
	}
	if err != nil {
		return fmt.Errorf("keys retire: %s", bankgate.ErrorMessage(err))
	}
	var keys []secret.Key
	for _, k := range a.keys.Keys() {
		if k.ID == id {
			if id != secret.OriginalKeyID {
				continue
			}
			k.Retired = true
		}
		keys = append(keys, k)
	}
	if err := writeKeyFile(path, keys); err != nil {
		return fmt.Errorf("keys retire: retired %s in the store, but: %w", id, err)
	}
	if u.Total() > 0 {
		fmt.Fprintf(stdout, "Revoked what depended on key %s: %d apps' secrets (give them new ones: apps rotate-secret), %d connections delinked, %d tokens revoked, %d access codes expired.\n",
			id, u.Apps, u.Connections, u.Tokens, u.Codes)
	}
	fmt.Fprintf(stdout, "Server key %s is retired; %s no longer trusts it. Restart the server(s) with this file.\n", id, path)
	return nil
}
