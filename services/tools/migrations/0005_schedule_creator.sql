-- Whom a schedule's occurrences run as: the actor and role that created it (ScheduleCreated's
-- envelope). Rows from before keep '' and their occurrences are refused by the runtime.
ALTER TABLE schedules ADD COLUMN creator text NOT NULL DEFAULT '';
ALTER TABLE schedules ADD COLUMN creator_role text NOT NULL DEFAULT '';
