-- Receivables and payables open at the end of the closed month, item by item: each posted
-- item's balance less what the partial reconciliations made by then matched
-- (account_partial_reconcile.max_date, the later of its two items' dates, <= period end).
-- Today's amount_residual is not used: it knows about payments made after the month.
-- due_date: the item's date_maturity (Odoo's due date), its date when it has none.
WITH p AS (
  SELECT * FROM gold.close_periods
  WHERE source = $source AND company_id = CAST($company_id AS BIGINT) AND period = $period
),
acc AS (
  SELECT * FROM silver.account_by_company
  WHERE company_id = CAST($company_id AS BIGINT)
    AND account_type IN ('asset_receivable', 'liability_payable')
),
items AS (
  SELECT l.id, l.move_id, l.move_name, l.date, l.date_maturity, l.partner_id, l.account_id,
         acc.code, acc.account_type, l.balance
  FROM silver.account_move_line l
  JOIN acc ON acc.account_id = l.account_id
  JOIN p ON l.company_id = p.company_id AND l.date <= p.period_end
  WHERE l.parent_state = 'posted'
),
matched AS (
  SELECT r.debit_move_id AS line_id, -r.amount AS amount
  FROM silver.account_partial_reconcile r JOIN p ON r.max_date <= p.period_end
  UNION ALL
  SELECT r.credit_move_id, r.amount
  FROM silver.account_partial_reconcile r JOIN p ON r.max_date <= p.period_end
),
per_line AS (
  SELECT line_id, sum(amount) AS amount FROM matched GROUP BY line_id
)
SELECT
  CAST($source AS VARCHAR) AS source,
  CAST($company_id AS BIGINT) AS company_id,
  CAST($period AS VARCHAR) AS period,
  i.account_type,
  i.account_id,
  i.code,
  i.partner_id,
  i.id AS move_line_id,
  i.move_id,
  i.move_name,
  i.date,
  coalesce(i.date_maturity, i.date) AS due_date,  -- the item's date when it has no due date
  CAST(i.balance AS DECIMAL(38, 10)) AS balance,
  CAST(coalesce(m.amount, 0) AS DECIMAL(38, 10)) AS matched_by_period_end,
  CAST(i.balance + coalesce(m.amount, 0) AS DECIMAL(38, 10)) AS open_amount
FROM items i
LEFT JOIN per_line m ON m.line_id = i.id
WHERE i.balance + coalesce(m.amount, 0) <> 0
ORDER BY i.account_type, i.partner_id, i.date, i.id
