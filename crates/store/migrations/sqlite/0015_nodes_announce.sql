-- PostgreSQL only (nodes announce their writes on its change feed); SQLite has one node.
SELECT 1;
