package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// applyConfigFile sets the flags of fs named by the keys of the YAML file
// at path, except those given on the command line or in the environment:
// a flag beats its environment variable, which beats the file, which
// beats the default. Its keys are fs's flag names, whatever they are, so
// a flag added to a command is a key of its file too. A key that names no
// flag is an error naming it, as is a value the flag refuses.
// It returns the keys it applied.
func applyConfigFile(fs *flag.FlagSet, path string, env func(string) string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	entries, err := parseConfigFile(b)
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	applied := map[string]bool{}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, e := range entries {
		f := fs.Lookup(e.key)
		if f == nil || e.key == "config" {
			what := "is not a setting (the keys are the flags' names without the dashes: see bankgate serve --help)"
			if e.key == "config" {
				what = "cannot be set in a config file"
			}
			return nil, fmt.Errorf("config file %s, line %d: unknown key %q: it %s", path, e.line, e.key, what)
		}
		if set[e.key] || fromEnv(e.key, env) {
			continue
		}
		if err := fs.Set(e.key, e.value); err != nil {
			return nil, fmt.Errorf("config file %s, line %d: %s: %w", path, e.line, e.key, err)
		}
		applied[e.key] = true
	}
	return applied, nil
}

// fromEnv reports whether the named setting is set in the environment.
func fromEnv(name string, env func(string) string) bool {
	for _, st := range settings {
		if st.flag == name {
			return env(st.env) != ""
		}
	}
	return false
}

// configEntry is one key of a config file, its value as a flag takes it.
type configEntry struct {
	key, value string
	line       int
}

// parseConfigFile reads a YAML mapping of flag names to scalars (or a
// list of scalars, for a comma-separated flag such as trusted-proxies).
func parseConfigFile(b []byte) ([]configEntry, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 { // an empty file
		return nil, nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a YAML mapping of settings (key: value lines)")
	}
	m := doc.Content[0]
	var out []configEntry
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: a key must be a setting's name", k.Line)
		}
		if seen[k.Value] {
			return nil, fmt.Errorf("line %d: %q is set twice", k.Line, k.Value)
		}
		seen[k.Value] = true
		var val string
		switch v.Kind {
		case yaml.ScalarNode:
			if v.Tag != "!!null" {
				val = v.Value
			}
		case yaml.SequenceNode:
			var items []string
			for _, it := range v.Content {
				if it.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("line %d: %s: a list may hold only plain values", it.Line, k.Value)
				}
				items = append(items, it.Value)
			}
			val = strings.Join(items, ",")
		default:
			return nil, fmt.Errorf("line %d: %s: the value must be a plain value or a list", v.Line, k.Value)
		}
		out = append(out, configEntry{key: k.Value, value: val, line: k.Line})
	}
	return out, nil
}

// cmdConfigPrint prints serve's effective configuration as a config file,
// each value's source in a comment, secrets redacted.
func cmdConfigPrint(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) error {
	cfg, fs, fromFile, err := parseServe("config print [serve flags]", args, env, stderr)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("config print: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	m := &yaml.Node{Kind: yaml.MappingNode}
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		v := f.Value.String()
		if redact := secretSettings[f.Name]; redact != nil {
			v = redact(v)
		}
		src := "default"
		switch {
		case fromFile[f.Name]:
			src = "config file"
		case set[f.Name]:
			src = "flag"
		case fromEnv(f.Name, env):
			src = "environment"
		}
		k := &yaml.Node{Kind: yaml.ScalarNode, Value: f.Name}
		val := &yaml.Node{Kind: yaml.ScalarNode, Value: v, LineComment: src}
		if v == "" {
			val.Style = yaml.DoubleQuotedStyle
		}
		m.Content = append(m.Content, k, val)
	})
	if cfg.ConfigFile != "" {
		fmt.Fprintf(stdout, "# bankgate serve's effective configuration (config file %s); secrets redacted\n", cfg.ConfigFile)
	} else {
		fmt.Fprintln(stdout, "# bankgate serve's effective configuration; secrets redacted")
	}
	enc := yaml.NewEncoder(stdout)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return err
	}
	return enc.Close()
}
