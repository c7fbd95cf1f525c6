-- What the route's cache did (hit, miss, …) and the encoding Portico compressed with.
ALTER TABLE exchanges ADD COLUMN cache TEXT;
ALTER TABLE exchanges ADD COLUMN compression TEXT;
