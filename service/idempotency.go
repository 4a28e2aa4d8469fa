package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/bankgate/bankgate"
	"github.com/bankgate/bankgate/secret"
)

const domainIdempotency = "idempotency"

// idemEvent is one entry of an idempotency stream: a claim, the recorded
// response, or a release after a server-side failure (so a retry runs the
// request again).
type idemEvent struct {
	Kind        string                   `json:"kind"` // claim | response | release
	Fingerprint string                   `json:"fp,omitempty"`
	At          time.Time                `json:"at"`
	Response    *bankgate.StoredResponse `json:"response,omitempty"`
}

// idemTakeover is how long a claim may stay without a response before a
// retry may run the request again (the first attempt is presumed dead; the
// connector still applies a payment at most once per key).
const idemTakeover = 10 * time.Minute

func (s *Service) idemStream(p *bankgate.Principal, key string) string {
	h := sha256.Sum256([]byte(key))
	return "idem/" + p.AppID + "/" + p.ConnectionID + "/" + hex.EncodeToString(h[:16])
}

var errInProgress = bankgate.Errorf(bankgate.RequestInProgress, "A request with this Idempotency-Key is still in progress; retry shortly.")

// BeginIdempotent claims an Idempotency-Key for the principal's request
// with the given fingerprint (endpoint and body). It returns the recorded
// response when the same request already completed; ParameterError when
// the key was used with a different request; RequestInProgress while the
// first request runs; and (nil, nil) when the caller should run the
// request and then call FinishIdempotent.
func (s *Service) BeginIdempotent(ctx context.Context, p *bankgate.Principal, key, endpoint string, body []byte) (*bankgate.StoredResponse, error) {
	fp := hex.EncodeToString(s.keys.IDDigest(domainIdempotency, endpoint+"\x00"+string(body)))
	stream := s.idemStream(p, key)
	for attempt := 0; attempt < 3; attempt++ {
		events, err := s.store.Events(ctx, stream, 0)
		if err != nil {
			return nil, err
		}
		claim := func() error {
			b, _ := json.Marshal(idemEvent{Kind: "claim", Fingerprint: fp, At: s.Now()})
			return s.store.AppendEvent(ctx, stream, int64(len(events))+1, s.Now(), b)
		}
		if len(events) == 0 {
			err := claim()
			if bankgate.IsCode(err, bankgate.Conflict) {
				continue
			}
			return nil, err
		}
		var first, last idemEvent
		if err := json.Unmarshal(events[0].Body, &first); err != nil {
			return nil, fmt.Errorf("idempotency claim: %w", err)
		}
		if !secret.Equal([]byte(first.Fingerprint), []byte(fp)) {
			return nil, bankgate.Errorf(bankgate.ParameterError, "This Idempotency-Key was used with a different request.")
		}
		if err := json.Unmarshal(events[len(events)-1].Body, &last); err != nil {
			return nil, fmt.Errorf("idempotency event: %w", err)
		}
		switch {
		case last.Kind == "response" && last.Response != nil:
			return last.Response, nil
		case last.Kind == "claim" && s.Now().Sub(last.At) < idemTakeover:
			return nil, errInProgress
		}
		// Released, or a claim whose request died: run it again.
		err = claim()
		if bankgate.IsCode(err, bankgate.Conflict) {
			continue
		}
		return nil, err
	}
	return nil, errInProgress
}

// FinishIdempotent records the outcome of a request begun with
// BeginIdempotent: its response, or, for a server-side failure (HTTP 5xx),
// a release so that a retry runs it again.
func (s *Service) FinishIdempotent(ctx context.Context, p *bankgate.Principal, key string, resp bankgate.StoredResponse) error {
	stream := s.idemStream(p, key)
	events, err := s.store.Events(ctx, stream, 0)
	if err != nil {
		return err
	}
	ev := idemEvent{Kind: "response", At: s.Now(), Response: &resp}
	if resp.Status >= 500 {
		ev = idemEvent{Kind: "release", At: s.Now()}
	}
	b, _ := json.Marshal(ev)
	return s.store.AppendEvent(ctx, stream, int64(len(events))+1, s.Now(), b)
}
