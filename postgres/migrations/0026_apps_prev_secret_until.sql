-- When the previous secret stops working (unix ns; 0: it does not).
ALTER TABLE apps ADD COLUMN prev_secret_until BIGINT NOT NULL DEFAULT 0
