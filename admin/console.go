package admin

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed assets
var assetFS embed.FS

// ConsoleCSP is the console's Content-Security-Policy: its own script and
// style only, requests to its own origin only, never framed, and no way to
// turn a string into HTML or script (Trusted Types with no policy).
const ConsoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
	"form-action 'none'; base-uri 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'"

// console registers the web console: /admin/ (the page) and its assets.
func (h *Handler) console() {
	files, _ := fs.Sub(assetFS, "assets")
	serve := func(w http.ResponseWriter, r *http.Request, name string) {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			writeError(w, http.StatusNotFound, "not_found", "No such console file.")
			return
		}
		hd := w.Header()
		switch path.Ext(name) {
		case ".html":
			hd.Set("Content-Type", "text/html; charset=utf-8")
		case ".js":
			hd.Set("Content-Type", "text/javascript; charset=utf-8")
		case ".css":
			hd.Set("Content-Type", "text/css; charset=utf-8")
		case ".svg":
			hd.Set("Content-Type", "image/svg+xml")
		default:
			hd.Set("Content-Type", "application/octet-stream")
		}
		hd.Set("Content-Security-Policy", ConsoleCSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Cross-Origin-Opener-Policy", "same-origin")
		hd.Set("Cross-Origin-Resource-Policy", "same-origin")
		hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()")
		if r.Method == http.MethodHead {
			return
		}
		w.Write(b)
	}
	h.mux.HandleFunc("GET /admin", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/admin/", http.StatusMovedPermanently)
	})
	h.mux.HandleFunc("GET /admin/{$}", func(w http.ResponseWriter, r *http.Request) { serve(w, r, "index.html") })
	h.mux.HandleFunc("GET /admin/assets/{file}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		if strings.HasPrefix(name, ".") || name == "index.html" {
			writeError(w, http.StatusNotFound, "not_found", "No such console file.")
			return
		}
		serve(w, r, name)
	})
}
