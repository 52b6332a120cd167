-- The problem kind a signal post's text speaks of ("can't log in": login), found by the
-- service's keywords when the post is stored; NULL when none was found (and for the posts
-- stored before). A nullable column, so nodes of the previous version keep working: they
-- store posts without a kind, which read as unclassified. The posts of a service's hour are
-- found by the existing index on (service, at_ms) and grouped by source and kind after it.
ALTER TABLE signal_posts ADD COLUMN kind TEXT;
