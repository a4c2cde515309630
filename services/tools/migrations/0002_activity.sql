-- Tools A read models: executions (for user metrics and the agents report), curated
-- collections, and notifications (the in-app inbox and webhook delivery records).
-- Times come from the events' occurred_at, never from the projector's clock.
CREATE TABLE activity_executions (
  execution_id text COLLATE "C" PRIMARY KEY,
  actor text NOT NULL,
  agent_type text NOT NULL,
  action text NOT NULL,
  status text NOT NULL,
  requested_at timestamptz NOT NULL,
  started_at timestamptz,
  ended_at timestamptz,
  model_calls integer NOT NULL DEFAULT 0,
  tokens_in bigint NOT NULL DEFAULT 0,
  tokens_out bigint NOT NULL DEFAULT 0,
  cost_usd double precision NOT NULL DEFAULT 0
);
CREATE INDEX activity_executions_actor ON activity_executions (actor, requested_at);
CREATE INDEX activity_executions_type ON activity_executions (agent_type, requested_at);
CREATE INDEX activity_executions_requested ON activity_executions (requested_at);

CREATE TABLE collections (
  id text COLLATE "C" PRIMARY KEY,
  name text NOT NULL,
  owner text NOT NULL,
  description text NOT NULL,
  ranked_by text NOT NULL DEFAULT 'manual',
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  version integer NOT NULL
);
CREATE INDEX collections_owner ON collections (owner, name);

CREATE TABLE collection_items (
  collection_id text COLLATE "C" NOT NULL,
  item_id text COLLATE "C" NOT NULL,
  title text NOT NULL,
  score double precision NOT NULL,
  position integer NOT NULL,
  attributes jsonb NOT NULL DEFAULT '{}'::jsonb,
  added_at timestamptz NOT NULL,
  PRIMARY KEY (collection_id, item_id)
);
CREATE INDEX collection_items_position ON collection_items (collection_id, position);

CREATE TABLE notifications (
  id text COLLATE "C" PRIMARY KEY,
  channel text NOT NULL,
  recipient text NOT NULL,
  subject text NOT NULL,
  body text NOT NULL,
  endpoint text NOT NULL,
  status text NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  status_code integer NOT NULL DEFAULT 0,
  error text NOT NULL DEFAULT '',
  created_at timestamptz NOT NULL,
  delivered_at timestamptz,
  sequence bigint NOT NULL
);
CREATE INDEX notifications_recipient ON notifications (recipient, created_at DESC, id DESC);
