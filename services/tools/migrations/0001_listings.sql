-- Listings read model: the current state of every listing, and its price history.
-- Times come from the events' occurred_at, never from the clock of the projector.
CREATE TABLE listings (
  id text COLLATE "C" PRIMARY KEY,
  seller text NOT NULL,
  title text NOT NULL,
  description text NOT NULL,
  category text NOT NULL,
  price_cents bigint NOT NULL,
  currency text NOT NULL,
  status text NOT NULL,
  attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  -- How many events built this row, and the stream sequence of the last one (seeding resumes from them).
  version integer NOT NULL,
  last_sequence bigint NOT NULL
);

CREATE INDEX listings_category_price ON listings (category, price_cents, id);
CREATE INDEX listings_category_created ON listings (category, created_at, id);
CREATE INDEX listings_price ON listings (price_cents, id);
CREATE INDEX listings_created ON listings (created_at, id);
CREATE INDEX listings_seller ON listings (seller);
CREATE INDEX listings_text ON listings USING gin (to_tsvector('english', title || ' ' || description));

CREATE TABLE listing_prices (
  listing_id text COLLATE "C" NOT NULL,
  sequence bigint NOT NULL,
  price_cents bigint NOT NULL,
  at timestamptz NOT NULL,
  PRIMARY KEY (listing_id, sequence)
);

CREATE INDEX listing_prices_at ON listing_prices (at);
