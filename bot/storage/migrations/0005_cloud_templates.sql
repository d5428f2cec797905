-- Version 5: Cloud API numbers send only templates Meta approved. A template of ours can
-- name its approved twin: JSON {"name": "spring_sale", "language": "az",
-- "params": ["name", "city"]} (our variables filling {{1}}, {{2}}, ... in order).
ALTER TABLE templates ADD COLUMN cloud TEXT;
