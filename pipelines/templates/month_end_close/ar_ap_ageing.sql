-- AR/AP ageing at the end of the closed month, per account type and partner: the open
-- items (gold.open_items) put in buckets by how many days past their due date they are
-- at period end (not due: due on or after the period end; then 1-30, 31-60, 61-90 and
-- over 90 days overdue), exact DECIMAL sums, and their total. Amounts keep the ledger's
-- sign: receivables debit (positive), payables credit (negative).
WITH p AS (
  SELECT * FROM gold.close_periods
  WHERE source = $source AND company_id = CAST($company_id AS BIGINT) AND period = $period
),
items AS (
  SELECT o.account_type, o.partner_id, o.open_amount,
         datediff('day', o.due_date, p.period_end) AS days_overdue
  FROM gold.open_items o CROSS JOIN p
  WHERE o.source = $source AND o.company_id = CAST($company_id AS BIGINT)
    AND o.period = $period
),
aged AS (
  SELECT account_type, partner_id,
         coalesce(sum(open_amount) FILTER (WHERE days_overdue <= 0), 0) AS not_due,
         coalesce(sum(open_amount) FILTER (WHERE days_overdue BETWEEN 1 AND 30), 0) AS days_1_30,
         coalesce(sum(open_amount) FILTER (WHERE days_overdue BETWEEN 31 AND 60), 0) AS days_31_60,
         coalesce(sum(open_amount) FILTER (WHERE days_overdue BETWEEN 61 AND 90), 0) AS days_61_90,
         coalesce(sum(open_amount) FILTER (WHERE days_overdue > 90), 0) AS over_90,
         sum(open_amount) AS total,
         count(*) AS items,
         max(days_overdue) AS max_days_overdue
  FROM items
  GROUP BY account_type, partner_id
),
named AS (  -- the partners of these rows, by name (res_partner.name: plain varchar in
  -- 16, 17 and 18)
  SELECT rp.id, nullif(trim(CAST(rp.name AS VARCHAR)), '') AS name
  FROM silver.res_partner rp
  WHERE rp.id IN (SELECT partner_id FROM aged)
),
namesakes AS (  -- every partner named as one of them (without case and outer spaces), its ref
  SELECT rp.id, nullif(trim(CAST(rp.name AS VARCHAR)), '') AS name,
         nullif(trim(json_extract_string(to_json(rp), '$.ref')), '') AS ref
  FROM silver.res_partner rp
  WHERE lower(trim(CAST(rp.name AS VARCHAR))) IN (SELECT lower(name) FROM named)
),
partners AS (  -- a partner as a controller reads it: its name; where another partner has the
  -- same name, its ref beside it (when none of the namesakes shares that ref) or else its id
  SELECT id,
         CASE WHEN count(*) OVER (PARTITION BY lower(name)) = 1 THEN name
              WHEN ref IS NOT NULL AND count(*) OVER (PARTITION BY lower(name), ref) = 1
                THEN name || ' (ref ' || ref || ')'
              ELSE name || ' (id ' || id || ')' END AS partner_name
  FROM namesakes
)
SELECT
  CAST($source AS VARCHAR) AS source,
  CAST($company_id AS BIGINT) AS company_id,
  CAST($period AS VARCHAR) AS period,
  a.account_type,
  CASE a.account_type WHEN 'asset_receivable' THEN 'receivable' ELSE 'payable' END AS kind,
  a.partner_id,
  coalesce(rp.partner_name, CASE WHEN a.partner_id IS NULL THEN '(no partner)'
                                 ELSE 'partner ' || a.partner_id END) AS partner_name,
  CAST(a.not_due AS DECIMAL(38, 10)) AS not_due,
  CAST(a.days_1_30 AS DECIMAL(38, 10)) AS days_1_30,
  CAST(a.days_31_60 AS DECIMAL(38, 10)) AS days_31_60,
  CAST(a.days_61_90 AS DECIMAL(38, 10)) AS days_61_90,
  CAST(a.over_90 AS DECIMAL(38, 10)) AS over_90,
  CAST(a.total AS DECIMAL(38, 10)) AS total,
  CAST(a.items AS BIGINT) AS items,
  CAST(a.max_days_overdue AS BIGINT) AS max_days_overdue
FROM aged a
LEFT JOIN partners rp ON rp.id = a.partner_id
ORDER BY a.account_type, a.partner_id
