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
)
SELECT
  CAST($source AS VARCHAR) AS source,
  CAST($company_id AS BIGINT) AS company_id,
  CAST($period AS VARCHAR) AS period,
  a.account_type,
  CASE a.account_type WHEN 'asset_receivable' THEN 'receivable' ELSE 'payable' END AS kind,
  a.partner_id,
  coalesce(CAST(rp.name AS VARCHAR), CASE WHEN a.partner_id IS NULL THEN '(no partner)'
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
LEFT JOIN silver.res_partner rp ON rp.id = a.partner_id
ORDER BY a.account_type, a.partner_id
