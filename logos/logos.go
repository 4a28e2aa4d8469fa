// Package logos holds the bank logos bankgate serves itself: small SVGs
// drawn for the sandbox banks (original designs in each bank's colours,
// not the banks' trademarks). Each is served by the Connect handler under
// a content-hashed name below Prefix, so that it can be cached for good,
// and the banks' logo fields in the API point there. Nothing is fetched
// from another host: the Connect page's CSP allows images from its own
// origin only.
package logos

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"path"
	"strings"
)

// Prefix is the path the logos are served under. A logo URL is Prefix,
// the logo's slug, a dash, 12 hex digits of the SHA-256 of the file, and
// ".svg", as in /connect/logos/enbd-0123456789ab.svg. It is a path on the
// bankgate server: resolve it against the server's base URL.
const Prefix = "/connect/logos/"

// ContentType is the media type of every logo.
const ContentType = "image/svg+xml"

//go:embed *.svg
var files embed.FS

// index is every logo: slug → file name with hash, and file name with
// hash → SVG.
type index struct {
	bySlug map[string]string
	byName map[string][]byte
}

var idx = func() index {
	x := index{bySlug: map[string]string{}, byName: map[string][]byte{}}
	entries, err := files.ReadDir(".")
	if err != nil {
		panic("logos: " + err.Error())
	}
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			panic("logos: " + err.Error())
		}
		sum := sha256.Sum256(b)
		slug := strings.TrimSuffix(e.Name(), path.Ext(e.Name()))
		name := slug + "-" + hex.EncodeToString(sum[:6]) + ".svg"
		x.bySlug[slug] = name
		x.byName[name] = b
	}
	return x
}()

// URL returns the path of the logo with the given slug (its file name
// without ".svg", such as "enbd"), or "" if there is no such logo.
func URL(slug string) string {
	name, ok := idx.bySlug[slug]
	if !ok {
		return ""
	}
	return Prefix + name
}

// Lookup returns the SVG served under Prefix+name, and whether there is
// one. Only the current content-hashed names are found.
func Lookup(name string) ([]byte, bool) {
	b, ok := idx.byName[name]
	return b, ok
}

// Slugs returns the slugs of every logo, for tests.
func Slugs() []string {
	out := make([]string, 0, len(idx.bySlug))
	for s := range idx.bySlug {
		out = append(out, s)
	}
	return out
}
