-- The open items tied out per partner to the ledger: the balance of the partner's posted
-- items on receivable (payable) accounts at period end against the sum of its open items.
-- A difference means a reconciliation the open items cannot explain. partner_name: the
-- partner's name, with its ref or id where two partners share the name.
WITH p AS (
  SELECT * FROM gold.close_periods
  WHERE source = $source AND company_id = CAST($company_id AS BIGINT) AND period = $period
),
acc AS (
  SELECT * FROM silver.account_by_company
  WHERE company_id = CAST($company_id AS BIGINT)
    AND account_type IN ('asset_receivable', 'liability_payable')
),
ledger AS (
  SELECT acc.account_type, l.partner_id, sum(l.balance) AS ledger_balance
  FROM silver.account_move_line l
  JOIN acc ON acc.account_id = l.account_id
  JOIN p ON l.company_id = p.company_id AND l.date <= p.period_end
  WHERE l.parent_state = 'posted'
  GROUP BY ALL
),
open_items AS (
  SELECT account_type, partner_id, sum(open_amount) AS open_amount, count(*) AS items
  FROM gold.open_items
  WHERE source = $source AND company_id = CAST($company_id AS BIGINT) AND period = $period
  GROUP BY ALL
),
named AS (  -- the partners of these rows, by name (res_partner.name: plain varchar in
  -- 16, 17 and 18)
  SELECT rp.id, nullif(trim(CAST(rp.name AS VARCHAR)), '') AS name
  FROM silver.res_partner rp
  WHERE rp.id IN (SELECT partner_id FROM ledger UNION ALL SELECT partner_id FROM open_items)
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
  coalesce(l.account_type, o.account_type) AS account_type,
  coalesce(l.partner_id, o.partner_id) AS partner_id,
  coalesce(rp.partner_name, CASE WHEN coalesce(l.partner_id, o.partner_id) IS NULL
                                 THEN '(no partner)'
                                 ELSE 'partner ' || coalesce(l.partner_id, o.partner_id) END)
    AS partner_name,
  CAST(coalesce(l.ledger_balance, 0) AS DECIMAL(38, 10)) AS ledger_balance,
  CAST(coalesce(o.open_amount, 0) AS DECIMAL(38, 10)) AS open_items_amount,
  coalesce(o.items, 0) AS open_items,
  CAST(coalesce(l.ledger_balance, 0) - coalesce(o.open_amount, 0) AS DECIMAL(38, 10)) AS difference
FROM ledger l
FULL JOIN open_items o
  ON o.account_type = l.account_type AND o.partner_id IS NOT DISTINCT FROM l.partner_id
LEFT JOIN partners rp ON rp.id = coalesce(l.partner_id, o.partner_id)
WHERE coalesce(l.ledger_balance, 0) <> 0 OR coalesce(o.open_amount, 0) <> 0
ORDER BY 4, 5
