// Package connect serves bankgate's Connect layer pages: GET /connect (the
// page an end user picks a bank and logs in on) and GET /connect.js (the
// script apps embed to open it). The page talks to the Connect JSON API
// (/v2/connect/banks/get, /v2/connect/login).
package connect

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/bankgate/bankgate"
)

// Apps looks apps up by their public key.
type Apps interface {
	AppByKey(ctx context.Context, appKey string) (*bankgate.App, error)
}

// Config configures the Connect pages.
type Config struct {
	Apps   Apps
	Logger *slog.Logger
}

// New returns the handler for GET /connect, /connect.js and the page's
// assets under /connect/.
func New(cfg Config) http.Handler {
	return http.NotFoundHandler()
}
