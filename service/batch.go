package service

import (
	"context"
	"fmt"

	"github.com/bankgate/bankgate"
)

func batchStream(p *Principal) string { return "batch/" + p.AppID + "/" + p.ConnectionID }

// SaveBatch records a batch transfer (its JSON) for the principal's
// connection.
func (s *Service) SaveBatch(ctx context.Context, p *Principal, body []byte) error {
	stream := batchStream(p)
	for attempt := 0; attempt < 5; attempt++ {
		events, err := s.store.Events(ctx, stream, 0)
		if err != nil {
			return err
		}
		err = s.store.AppendEvent(ctx, stream, int64(len(events))+1, s.Now(), body)
		if !bankgate.IsCode(err, bankgate.Conflict) {
			return err
		}
	}
	return fmt.Errorf("save batch: too much contention")
}

// Batches returns the principal's recorded batches, oldest first.
func (s *Service) Batches(ctx context.Context, p *Principal) ([][]byte, error) {
	events, err := s.store.Events(ctx, batchStream(p), 0)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(events))
	for i, e := range events {
		out[i] = e.Body
	}
	return out, nil
}
