-- analyze_market_price reads one category's price points in a window: carry the listing's category and
-- currency (both fixed at creation) on each price row, so that read is one index-only range scan instead
-- of a scan of every price in the window joined to listings.
ALTER TABLE listing_prices ADD COLUMN category text, ADD COLUMN currency text;

UPDATE listing_prices p SET category = l.category, currency = l.currency
FROM listings l WHERE l.id = p.listing_id;

CREATE INDEX listing_prices_category_at ON listing_prices (category, currency, at) INCLUDE (listing_id, price_cents);

-- The figures read the category's listings created in the window: index-only as well.
CREATE INDEX listings_category_currency_created ON listings (category, currency, created_at)
  INCLUDE (price_cents, status);
