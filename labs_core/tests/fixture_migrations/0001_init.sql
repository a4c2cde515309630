CREATE TABLE listings (
  listing_id text PRIMARY KEY,
  title text NOT NULL,
  price_cents bigint NOT NULL,
  updates int NOT NULL DEFAULT 0,
  last_sequence bigint NOT NULL
);
