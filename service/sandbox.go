package service

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
)

// sandboxUsers returns the connector serving bankID as bank.SandboxUsers, or
// InvalidBankID when no connector serving it lets apps make test users.
func (s *Service) sandboxUsers(bankID string) (bank.SandboxUsers, error) {
	c, ok := s.banks[bankID]
	if !ok {
		return nil, bankgate.Errorf(bankgate.InvalidBankID, "The bankID is not a bank this server serves.")
	}
	tu, ok := c.(bank.SandboxUsers)
	if !ok {
		return nil, bankgate.Errorf(bankgate.InvalidBankID, "The bank %s has no sandbox users.", bankID)
	}
	return tu, nil
}

// CreateSandboxUser creates or replaces a sandbox user, described by a
// fixture, at bankID in the calling app's sandbox world only. It returns
// InvalidAppCredentials for a bad appSecret, ParameterMissing without a
// bankID or fixture, InvalidBankID for a bank without sandbox users, and
// ParameterError for a fixture the bank refuses.
func (s *Service) CreateSandboxUser(ctx context.Context, appSecret, bankID string, fixture []byte) (*bankgate.SandboxUser, error) {
	app, err := s.sandboxApp(ctx, appSecret)
	if err != nil {
		return nil, err
	}
	if bankID == "" || len(fixture) == 0 || string(fixture) == "null" {
		return nil, bankgate.Errorf(bankgate.ParameterMissing, "bankID and fixture are required.")
	}
	tu, err := s.sandboxUsers(bankID)
	if err != nil {
		return nil, err
	}
	u, err := tu.CreateSandboxUser(ctx, worldID(app), bankID, fixture)
	if err != nil {
		return nil, fmt.Errorf("create sandbox user: %w", err)
	}
	return u, nil
}

// SandboxUsers lists the sandbox users the calling app made, by bank and
// username.
func (s *Service) SandboxUsers(ctx context.Context, appSecret string) ([]bankgate.SandboxUser, error) {
	app, err := s.sandboxApp(ctx, appSecret)
	if err != nil {
		return nil, err
	}
	return s.appSandboxUsers(ctx, app)
}

// appSandboxUsers lists the sandbox users app made, by bank and username.
func (s *Service) appSandboxUsers(ctx context.Context, app *bankgate.App) ([]bankgate.SandboxUser, error) {
	var seen []bank.SandboxUsers
	out := []bankgate.SandboxUser{}
	for _, b := range s.bankList {
		tu, ok := s.banks[b.ID].(bank.SandboxUsers)
		if !ok || slices.Contains(seen, tu) {
			continue
		}
		seen = append(seen, tu)
		us, err := tu.SandboxUsers(ctx, worldID(app))
		if err != nil {
			return nil, fmt.Errorf("list sandbox users: %w", err)
		}
		out = append(out, us...)
	}
	slices.SortFunc(out, func(a, b bankgate.SandboxUser) int {
		if c := strings.Compare(a.BankID, b.BankID); c != 0 {
			return c
		}
		return strings.Compare(a.Username, b.Username)
	})
	return out, nil
}

// DeleteSandboxUser deletes a sandbox user the calling app made; the
// username is then the bank's template or generated user again in the
// app's world. It returns ParameterError when the app has no such user.
func (s *Service) DeleteSandboxUser(ctx context.Context, appSecret, bankID, username string) error {
	app, err := s.sandboxApp(ctx, appSecret)
	if err != nil {
		return err
	}
	if bankID == "" || username == "" {
		return bankgate.Errorf(bankgate.ParameterMissing, "bankID and username are required.")
	}
	noUser := bankgate.Errorf(bankgate.ParameterError, "The app has no sandbox user of that username at that bank.")
	if len(username) > 256 {
		return noUser
	}
	tu, err := s.sandboxUsers(bankID)
	if err != nil {
		return err
	}
	err = tu.DeleteSandboxUser(ctx, worldID(app), bankID, username)
	if bankgate.IsCode(err, bankgate.NotFound) {
		return noUser
	}
	return err
}

// parseAdvance reads a clock advance: a Go duration ("36h", "90m") or a
// whole number of days ("30d").
func parseAdvance(v string) (time.Duration, error) {
	bad := bankgate.Errorf(bankgate.ParameterError,
		"The field \"advance\" must be a positive duration such as \"36h\" or \"30d\", at most %d days.", int(bankgate.MaxClockAdvance/(24*time.Hour)))
	if v == "" || len(v) > 32 {
		return 0, bad
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > int(bankgate.MaxClockAdvance/(24*time.Hour)) {
			return 0, bad
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, bad
		}
	}
	if d <= 0 || d > bankgate.MaxClockAdvance {
		return 0, bad
	}
	return d, nil
}

// sandboxApp authenticates an app by its secret for one of the sandbox's
// own calls: InvalidAppCredentials for a bad appSecret, NotImplemented
// for a production app, which has no sandbox.
func (s *Service) sandboxApp(ctx context.Context, appSecret string) (*bankgate.App, error) {
	app, err := s.AppBySecret(ctx, appSecret)
	if err != nil {
		return nil, err
	}
	if production(app) {
		return nil, errProductionApp()
	}
	return app, nil
}

func errProductionApp() error {
	return bankgate.Errorf(bankgate.NotImplemented, "Production apps have no sandbox: no test clock and no sandbox users.")
}

// AdvanceClock moves the app's sandbox test clock forward by advance (a
// Go duration or "<n>d"), or only reads it when advance is empty. Only
// that app's sandbox world sees the move: its new transactions, ended
// cool-downs and lockouts; its unused access codes move as much closer to
// expiry (a code expires at the earlier of its real and its virtual
// expiry, so no move makes an expired code valid). An advance must be
// positive and at most MaxClockAdvance, and the app's advances together
// at most MaxClockOffset; otherwise it returns ParameterError and nothing
// moves. It returns InvalidAppCredentials for a bad appSecret.
func (s *Service) AdvanceClock(ctx context.Context, appSecret, advance string) (*bankgate.SandboxClock, error) {
	app, err := s.sandboxApp(ctx, appSecret)
	if err != nil {
		return nil, err
	}
	offset := app.ClockOffset
	if advance != "" {
		d, err := parseAdvance(advance)
		if err != nil {
			return nil, err
		}
		offset, err = s.store.AdvanceAppClock(ctx, app.ID, d, s.Now())
		if bankgate.IsCode(err, bankgate.ParameterError) {
			return nil, bankgate.Errorf(bankgate.ParameterError,
				"The app's sandbox clock may move at most %d days in all; it has moved %s.", int(bankgate.MaxClockOffset/(24*time.Hour)), app.ClockOffset)
		}
		if err != nil {
			return nil, fmt.Errorf("advance clock: %w", err)
		}
		s.forgetApp(app.ID)
	}
	return &bankgate.SandboxClock{Now: appNow(s.sandboxAt(s.Now()), offset), Offset: offset}, nil
}
