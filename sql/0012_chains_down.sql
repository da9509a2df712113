-- gold-indexer revision 0012, down: back to 0011.
DROP VIEW tokenized_gold_daily;
ALTER TABLE tokens DROP COLUMN kind, DROP COLUMN oft;
DROP TABLE chains;
