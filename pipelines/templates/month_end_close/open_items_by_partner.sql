-- The open items tied out per partner to the ledger: the balance of the partner's posted
-- items on receivable (payable) accounts at period end against the sum of its open items.
-- A difference means a reconciliation the open items cannot explain.
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
)
SELECT
  CAST($source AS VARCHAR) AS source,
  CAST($company_id AS BIGINT) AS company_id,
  CAST($period AS VARCHAR) AS period,
  coalesce(l.account_type, o.account_type) AS account_type,
  coalesce(l.partner_id, o.partner_id) AS partner_id,
  CAST(coalesce(l.ledger_balance, 0) AS DECIMAL(38, 10)) AS ledger_balance,
  CAST(coalesce(o.open_amount, 0) AS DECIMAL(38, 10)) AS open_items_amount,
  coalesce(o.items, 0) AS open_items,
  CAST(coalesce(l.ledger_balance, 0) - coalesce(o.open_amount, 0) AS DECIMAL(38, 10)) AS difference
FROM ledger l
FULL JOIN open_items o
  ON o.account_type = l.account_type AND o.partner_id IS NOT DISTINCT FROM l.partner_id
WHERE coalesce(l.ledger_balance, 0) <> 0 OR coalesce(o.open_amount, 0) <> 0
ORDER BY 4, 5
