-- Every recorded row paid for this index (a descent and a page split now and then) to speed
-- up one filter; scanning for a host reads the rows newest first and stops at a page of
-- matches, milliseconds even over a full log. The start-time index stays: retention counts
-- rows and finds the too-old ones through it.
DROP INDEX exchanges_host;
