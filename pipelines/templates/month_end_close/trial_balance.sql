-- Trial balance of the closed month, per account: opening, the month's debit and credit,
-- closing = opening + the month. Balance-sheet accounts open with everything before the
-- month; income and expense accounts with the current fiscal year's entries only, and
-- every earlier year's result is carried to the undistributed profits account
-- (equity_unaffected), as Odoo's own trial balance does. Posted entries only.
WITH p AS (
  SELECT * FROM gold.close_periods
  WHERE source = $source AND company_id = CAST($company_id AS BIGINT) AND period = $period
),
acc AS (
  SELECT * FROM silver.account_by_company WHERE company_id = CAST($company_id AS BIGINT)
),
lines AS (
  SELECT l.account_id, l.date, l.debit, l.credit, l.balance, acc.include_initial_balance,
         p.period_start, p.fiscal_year_start
  FROM silver.account_move_line l
  JOIN p ON l.company_id = p.company_id AND l.date <= p.period_end
  LEFT JOIN acc ON acc.account_id = l.account_id
  WHERE l.parent_state = 'posted'
),
moved AS (
  SELECT account_id,
    sum(CASE WHEN date < period_start AND (coalesce(include_initial_balance, true)
                                           OR date >= fiscal_year_start)
             THEN balance ELSE 0 END) AS opening,
    sum(CASE WHEN date >= period_start THEN debit ELSE 0 END) AS debit,
    sum(CASE WHEN date >= period_start THEN credit ELSE 0 END) AS credit
  FROM lines
  GROUP BY account_id
  UNION ALL
  -- Earlier fiscal years' profit and loss, carried forward.
  SELECT (SELECT min(account_id) FROM acc WHERE account_type = 'equity_unaffected'),
         sum(balance), 0, 0
  FROM lines
  WHERE NOT coalesce(include_initial_balance, true) AND date < fiscal_year_start
),
summed AS (
  SELECT account_id, sum(opening) AS opening, sum(debit) AS debit, sum(credit) AS credit
  FROM moved
  GROUP BY account_id
)
SELECT
  CAST($source AS VARCHAR) AS source,
  CAST($company_id AS BIGINT) AS company_id,
  CAST($period AS VARCHAR) AS period,
  s.account_id,
  coalesce(acc.code, '?') AS code,
  coalesce(acc.account_name,
           CASE WHEN s.account_id IS NULL THEN 'Undistributed Profits/Losses (no such account)'
                ELSE 'account ' || s.account_id || ' (not of this company)' END) AS account_name,
  acc.account_type,
  CAST(coalesce(s.opening, 0) AS DECIMAL(38, 10)) AS opening,
  CAST(coalesce(s.debit, 0) AS DECIMAL(38, 10)) AS debit,
  CAST(coalesce(s.credit, 0) AS DECIMAL(38, 10)) AS credit,
  CAST(coalesce(s.debit, 0) - coalesce(s.credit, 0) AS DECIMAL(38, 10)) AS period_balance,
  CAST(coalesce(s.opening, 0) + coalesce(s.debit, 0) - coalesce(s.credit, 0) AS DECIMAL(38, 10))
    AS closing
FROM summed s
LEFT JOIN acc ON acc.account_id = s.account_id
WHERE s.opening IS NOT NULL
ORDER BY code
