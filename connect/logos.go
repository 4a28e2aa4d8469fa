package connect

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/bankgate/bankgate/logos"
)

// serveLogo serves a bank logo under logos.Prefix. The name carries the
// file's content hash, so a logo is cached for good; apps may show the
// logo a bank's logo field points at on their own pages, so it is
// loadable from any origin. A name that is not a current logo is 404.
func serveLogo(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, logos.Prefix)
	b, ok := logos.Lookup(name)
	if !ok {
		plain(w, http.StatusNotFound, "not found")
		return
	}
	h := w.Header()
	h.Set("Content-Type", logos.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", `"`+strings.TrimSuffix(name, ".svg")+`"`)
	h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	// An SVG opened on its own is a document: let it do nothing but draw.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}
