package tracing

import (
	"context"
	"time"

	"github.com/bankgate/bankgate"
)

// The webhook store's methods (bankgate.WebhookStore). The dispatcher's
// claims and finishes run outside any request, so they start no trace.

func (s *store) WebhookEndpoint(ctx context.Context, appID string) (*bankgate.WebhookEndpoint, error) {
	ctx, sp := s.start(ctx, "store.WebhookEndpoint")
	v, err := s.Store.WebhookEndpoint(ctx, appID)
	end(sp, err)
	return v, err
}

func (s *store) UpdateWebhookEndpoint(ctx context.Context, appID string, now time.Time, fn func(*bankgate.WebhookEndpoint) error) (*bankgate.WebhookEndpoint, error) {
	ctx, sp := s.start(ctx, "store.UpdateWebhookEndpoint")
	v, err := s.Store.UpdateWebhookEndpoint(ctx, appID, now, fn)
	end(sp, err)
	return v, err
}

func (s *store) EnqueueWebhook(ctx context.Context, e *bankgate.WebhookEvent) (bool, error) {
	ctx, sp := s.start(ctx, "store.EnqueueWebhook")
	v, err := s.Store.EnqueueWebhook(ctx, e)
	end(sp, err)
	return v, err
}

func (s *store) ClaimWebhooks(ctx context.Context, c bankgate.WebhookClaim) ([]bankgate.WebhookEvent, error) {
	ctx, sp := s.start(ctx, "store.ClaimWebhooks")
	v, err := s.Store.ClaimWebhooks(ctx, c)
	end(sp, err)
	return v, err
}

func (s *store) FinishWebhook(ctx context.Context, r *bankgate.WebhookResult) error {
	ctx, sp := s.start(ctx, "store.FinishWebhook")
	err := s.Store.FinishWebhook(ctx, r)
	end(sp, err)
	return err
}

func (s *store) WebhookEvents(ctx context.Context, q bankgate.WebhookQuery) ([]bankgate.WebhookEvent, error) {
	ctx, sp := s.start(ctx, "store.WebhookEvents")
	v, err := s.Store.WebhookEvents(ctx, q)
	end(sp, err)
	return v, err
}

func (s *store) WebhookEvent(ctx context.Context, id string) (*bankgate.WebhookEvent, error) {
	ctx, sp := s.start(ctx, "store.WebhookEvent")
	v, err := s.Store.WebhookEvent(ctx, id)
	end(sp, err)
	return v, err
}

func (s *store) WebhookAttempts(ctx context.Context, eventID string, limit int) ([]bankgate.WebhookAttempt, error) {
	ctx, sp := s.start(ctx, "store.WebhookAttempts")
	v, err := s.Store.WebhookAttempts(ctx, eventID, limit)
	end(sp, err)
	return v, err
}

func (s *store) RedeliverWebhook(ctx context.Context, id string, now time.Time) (*bankgate.WebhookEvent, error) {
	ctx, sp := s.start(ctx, "store.RedeliverWebhook")
	v, err := s.Store.RedeliverWebhook(ctx, id, now)
	end(sp, err)
	return v, err
}

func (s *store) PruneWebhooks(ctx context.Context, before time.Time) (int, error) {
	ctx, sp := s.start(ctx, "store.PruneWebhooks")
	v, err := s.Store.PruneWebhooks(ctx, before)
	end(sp, err)
	return v, err
}
