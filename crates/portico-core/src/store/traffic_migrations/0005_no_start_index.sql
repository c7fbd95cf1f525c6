-- The last secondary index goes: every recorded row paid for an entry in it, and retention
-- for deleting that entry again. Retention finds the rows too old to keep from the oldest
-- end of the table instead (ids follow the order of recording), and counts the table itself.
-- A time-range filter reads rows newest first, like the other filters.
DROP INDEX exchanges_started;
