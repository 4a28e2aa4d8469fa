-- 1 when an operator asked for a redelivery while an attempt of the event
-- was in flight: that attempt's finish leaves the event pending (the next
-- claim, the redelivery, clears it).
ALTER TABLE webhook_events ADD COLUMN redeliver INTEGER NOT NULL DEFAULT 0;
