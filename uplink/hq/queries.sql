-- The first queries a back office runs against tillhq's PostgreSQL projection (days are
-- UTC days; money in minor units, quantities in thousandths). Each starts with a
-- "-- name:" line; the projection test runs every one of them.

-- name: takings per store and day
SELECT store, day, currency, receipts, gross
FROM hq_takings_daily
ORDER BY store, day, currency;

-- name: top items
SELECT item, min(name) AS name, sum(qty) AS qty, sum(amount) AS amount
FROM hq_item_sales
GROUP BY item
ORDER BY amount DESC, item
LIMIT 10;

-- name: VAT per rate and day
SELECT day, code, rate, sum(net) AS net, sum(tax) AS tax, sum(gross) AS gross
FROM hq_vat_daily
GROUP BY day, code, rate
ORDER BY day, code, rate;

-- name: tenders per kind
SELECT t.kind, count(*) AS tenders, sum(t.amount) AS amount
FROM hq_tenders t JOIN hq_receipts r USING (store, till, seq)
WHERE r.kind IN ('sale', 'refund')
GROUP BY t.kind
ORDER BY t.kind;

-- name: receipts of one till on a day ($1 store, $2 till, $3 day)
SELECT receipt, central, kind, cashier, gross
FROM hq_receipts
WHERE store = $1 AND till = $2
	AND at >= $3::date::timestamp AT TIME ZONE 'UTC' AND at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'
ORDER BY seq;
