// MFA operations: IDs, sealed continuation state, the claim of a resume,
// outcomes and records, and operation/status.

package service

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/bank"
)

// OperationStatus returns the app's operation with the given ID. It
// returns InvalidAppCredentials for a bad appSecret and
// InvalidOperationID when the operation is unknown or another app's.
func (s *Service) OperationStatus(ctx context.Context, appSecret, operationID string) (*bankgate.Operation, error) {
	app, err := s.AppBySecret(ctx, appSecret)
	if err != nil {
		return nil, err
	}
	bad := bankgate.Errorf(bankgate.InvalidOperationID, "No operation of this app has that operationID.")
	if operationID == "" || len(operationID) > 200 {
		return nil, bad
	}
	op, err := s.store.Operation(ctx, operationID)
	if bankgate.IsCode(err, bankgate.NotFound) {
		return nil, bad
	}
	if err != nil {
		return nil, err
	}
	if op.AppID != app.ID {
		return nil, bad
	}
	if op.Status == bankgate.StatusUserInputRequired && !s.Now().Before(op.ExpiresAt) {
		op.Status, op.ErrorType = bankgate.StatusFailed, string(bankgate.SessionExpired)
	}
	return op, nil
}

// opRand are ChaCha8 generators seeded from crypto/rand, one per user at
// a time: a random (version 4) UUID from one costs no allocation and no
// system call.
var opRand = sync.Pool{New: func() any {
	var seed [32]byte
	crand.Read(seed[:])
	return mrand.NewChaCha8(seed)
}}

// randomUUID returns a random (version 4, RFC 9562) UUID.
func randomUUID() (u [16]byte) {
	r := opRand.Get().(*mrand.ChaCha8)
	r.Read(u[:])
	opRand.Put(r)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

func (s *Service) newOperationID(bankID string) string {
	prefix := bankID
	if b, ok := s.bankIndex[bankID]; ok && b.SwiftCode != "" {
		prefix = b.SwiftCode
	}
	// <prefix>:<uuid v4>, built in one allocation.
	u := randomUUID()
	buf := make([]byte, 0, len(prefix)+1+36)
	buf = append(append(buf, prefix...), ':')
	var h [36]byte
	hex.Encode(h[0:8], u[0:4])
	h[8] = '-'
	hex.Encode(h[9:13], u[4:6])
	h[13] = '-'
	hex.Encode(h[14:18], u[6:8])
	h[18] = '-'
	hex.Encode(h[19:23], u[8:10])
	h[23] = '-'
	hex.Encode(h[24:], u[10:])
	buf = append(buf, h[:]...)
	return unsafeString(buf)
}

func (s *Service) sealState(opID string, state []byte) ([]byte, error) {
	return s.keys.Seal(opID, "operation", state)
}

func (s *Service) openState(opID string, sealed []byte) ([]byte, error) {
	return s.keys.Open(opID, "operation", sealed)
}

// claimOperation loads a pending operation for resume and marks it as in
// progress, so that only one resume of it runs. It returns
// InvalidOperationID when the operation is unknown, expired, already
// resumed, or belongs to another app, connection or endpoint.
func (s *Service) claimOperation(ctx context.Context, id, appID, connID, endpoint string) (*bankgate.Operation, []byte, error) {
	bad := bankgate.Errorf(bankgate.InvalidOperationID, "The operationID is unknown, expired or already completed.")
	if len(id) > 200 {
		return nil, nil, bad
	}
	op, err := s.store.Operation(ctx, id)
	if bankgate.IsCode(err, bankgate.NotFound) {
		return nil, nil, bad
	}
	if err != nil {
		return nil, nil, err
	}
	now := s.Now()
	if op.AppID != appID || op.ConnectionID != connID || !strings.EqualFold(op.Endpoint, endpoint) ||
		op.Status != bankgate.StatusUserInputRequired || !now.Before(op.ExpiresAt) {
		return nil, nil, bad
	}
	state, err := s.openState(op.ID, op.State)
	if err != nil {
		return nil, nil, fmt.Errorf("open operation state: %w", err)
	}
	claimed := *op
	claimed.Status, claimed.UpdatedAt, claimed.State = bankgate.StatusInitialized, now, nil
	if err := s.store.UpdateOperation(ctx, &claimed, bankgate.StatusUserInputRequired); err != nil {
		if bankgate.IsCode(err, bankgate.Conflict) {
			return nil, nil, bad
		}
		return nil, nil, err
	}
	return &claimed, state, nil
}

// finishOperation records the outcome of a resumed operation. Failures to
// record are logged, not returned: the caller's result stands.
func (s *Service) finishOperation(ctx context.Context, op *bankgate.Operation, callErr error, ev *bankgate.WebhookEvent) {
	done := *op
	done.Webhook = ev
	done.UpdatedAt = s.Now()
	done.Status = bankgate.StatusDone
	if callErr != nil {
		done.Status, done.ErrorType = bankgate.StatusFailed, string(bankgate.ErrorCode(callErr))
	}
	if err := s.store.UpdateOperation(ctx, &done, bankgate.StatusInitialized); err != nil {
		s.log.WarnContext(ctx, "record operation outcome", "operationID", op.ID, "err", err)
	}
}

// createPrompt stores a new pending operation for a challenge.
func (s *Service) createPrompt(ctx context.Context, opID, appID, connID, bankID, endpoint string, ch *bank.Challenge) error {
	sealed, err := s.sealState(opID, ch.State)
	if err != nil {
		return err
	}
	now := s.Now()
	return s.store.CreateOperation(ctx, &bankgate.Operation{
		ID: opID, AppID: appID, ConnectionID: connID, BankID: bankID, Endpoint: endpoint,
		Status: bankgate.StatusUserInputRequired, State: sealed, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(s.opTTL),
	})
}

// reprompt puts a resumed operation back to waiting for input, with the
// connector's new state.
func (s *Service) reprompt(ctx context.Context, op *bankgate.Operation, ch *bank.Challenge) error {
	sealed, err := s.sealState(op.ID, ch.State)
	if err != nil {
		return err
	}
	now := s.Now()
	next := *op
	next.Status, next.State, next.UpdatedAt, next.ExpiresAt = bankgate.StatusUserInputRequired, sealed, now, now.Add(s.opTTL)
	return s.store.UpdateOperation(ctx, &next, bankgate.StatusInitialized)
}

// recordOperation stores a finished operation that needed no input.
// Failures to record are logged: the call's result stands.
func (s *Service) recordOperation(ctx context.Context, opID string, p *bankgate.Principal, endpoint string, callErr error, ev *bankgate.WebhookEvent) {
	now := s.Now()
	op := &bankgate.Operation{ID: opID, AppID: p.AppID, ConnectionID: p.ConnectionID, BankID: p.BankID, Endpoint: endpoint,
		Status: bankgate.StatusDone, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(recordTTL), Webhook: ev}
	if callErr != nil {
		op.Status, op.ErrorType = bankgate.StatusFailed, string(bankgate.ErrorCode(callErr))
	}
	if err := s.store.CreateOperation(ctx, op); err != nil {
		s.log.WarnContext(ctx, "record operation", "operationID", opID, "err", err)
	}
}

// recordTTL is how long finished operations stay queryable.
const recordTTL = 7 * 24 * time.Hour
