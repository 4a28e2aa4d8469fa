package http

import (
	"context"
	"slices"

	"github.com/bankgate/bankgate"
)

type sdkConfigRequest struct {
	AppKey   string `json:"appKey"`
	BundleID string `json:"bundleID"`
}

type appConfig struct {
	AppKey            string  `json:"appKey"`
	AppName           string  `json:"appName"`
	ServerURL         string  `json:"serverURL,omitempty"`
	MaxTransferAmount float64 `json:"maxTransferAmount"`
	MinTransferAmount float64 `json:"minTransferAmount"`
	IsBenefsSet       bool    `json:"isBenefsSet"`
	IsWireBenefsSet   bool    `json:"isWireBenefsSet"`
	PrimaryColor      string  `json:"primaryColor"`
	SecondaryColor    string  `json:"secondaryColor"`
}

type sdkConfigResponse struct {
	envelope
	AppConfig appConfig `json:"appConfig"`
}

// SDK transfer limits reported to client SDKs.
const (
	sdkMaxTransfer = 100000
	sdkMinTransfer = 1
)

// sdkConfig serves /v2/sdk/apps/configs/get: the app configuration the
// mobile and web client SDKs fetch on start. The bundleID must be one the
// app registered (`bankgate apps set --bundle-id`).
func (s *Server) sdkConfig(ctx context.Context, c *request) (any, error) {
	var req sdkConfigRequest
	if err := decode(c.body, &req); err != nil {
		return nil, err
	}
	if err := missing("appKey", req.AppKey, "bundleID", req.BundleID); err != nil {
		return nil, err
	}
	app, err := s.svc.AppByKey(ctx, req.AppKey)
	if err != nil {
		return nil, err
	}
	c.noteApp(app.Key)
	if !slices.Contains(app.BundleIDs, req.BundleID) {
		return nil, bankgate.Errorf(bankgate.InvalidAppCredentials, "App config not found: the bundleID is not registered for this appKey.")
	}
	return &sdkConfigResponse{envelope: done(""), AppConfig: appConfig{
		AppKey: app.Key, AppName: app.Name, ServerURL: app.ServerURL,
		MaxTransferAmount: sdkMaxTransfer, MinTransferAmount: sdkMinTransfer,
		IsBenefsSet: true, IsWireBenefsSet: true, PrimaryColor: "#0B5FFF", SecondaryColor: "#FFFFFF",
	}}, nil
}
