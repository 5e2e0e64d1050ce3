-- The checks a controller makes before signing off, one row each with its numbers.
-- status: passed, failed (the close cannot be trusted: the run fails), warning (look at
-- it before signing off) or info.
WITH p AS (
  SELECT * FROM gold.close_periods
  WHERE source = $source AND company_id = CAST($company_id AS BIGINT) AND period = $period
),
tb AS (
  SELECT * FROM gold.trial_balance
  WHERE source = $source AND company_id = CAST($company_id AS BIGINT) AND period = $period
),
tie AS (
  SELECT * FROM gold.open_items_by_partner
  WHERE source = $source AND company_id = CAST($company_id AS BIGINT) AND period = $period
),
acc AS (
  SELECT * FROM silver.account_by_company WHERE company_id = CAST($company_id AS BIGINT)
),
posted AS (
  SELECT l.* FROM silver.account_move_line l
  JOIN p ON l.company_id = p.company_id AND l.date <= p.period_end
  WHERE l.parent_state = 'posted'
),
company AS (  -- its currency, and its root company (18 keeps rates on the root)
  SELECT c.currency_id,
         coalesce(TRY_CAST(split_part(json_extract_string(to_json(c), '$.parent_path'), '/', 1)
                           AS BIGINT), c.id) AS root_id
  FROM silver.res_company c WHERE c.id = CAST($company_id AS BIGINT)
),
rate_at_end AS (  -- Odoo's _get_rates at period end: units of a currency per 1 company
  -- currency; the company's own rate before a shared one (company_id NULL), the latest
  -- dated by period end, else the earliest there is (a currency without rates is 1)
  SELECT currency_id, rate, rate_date FROM (
    SELECT r.currency_id, r.rate, r.name AS rate_date,
           row_number() OVER (PARTITION BY r.currency_id
                              ORDER BY r.name <= p.period_end DESC, r.company_id IS NULL,
                                       CASE WHEN r.name <= p.period_end THEN r.name END DESC,
                                       r.name, r.id) AS n
    FROM silver.res_currency_rate r CROSS JOIN p CROSS JOIN company co
    WHERE r.rate > 0 AND (r.company_id IS NULL OR r.company_id IN (p.company_id, co.root_id))
  ) WHERE n = 1
),
fx_accounts AS (  -- what Odoo's unrealized currency gains/losses report revalues: the
  -- receivable and payable items in a foreign currency, and accounts kept in a foreign
  -- currency (account_account.currency_id, e.g. a USD bank account). Not a company-currency
  -- bank, tax or other account's foreign-currency lines: what they hold was converted when
  -- booked (a USD invoice's tax is owed in EUR), there is nothing to revalue
  SELECT acc.account_id FROM acc
  LEFT JOIN silver.account_account a ON a.id = acc.account_id
  WHERE acc.account_type IN ('asset_receivable', 'liability_payable')
     OR TRY_CAST(json_extract_string(to_json(a), '$.currency_id') AS BIGINT)
          <> (SELECT currency_id FROM company)
),
fx AS (  -- foreign-currency balances of those accounts, revalued at period end
  SELECT f.*, cur.name AS currency, a.code, a.account_name,
         coalesce(r.rate, 1) AS rate, r.rate_date, coalesce(cr.rate, 1) AS company_rate,
         cc.name AS company_currency, cc.rounding,
         -- amount_currency * company_rate / rate, rounded half away from zero to the
         -- company currency's rounding, exactly: in integers (DuckDB divides DECIMALs as
         -- DOUBLE), every DECIMAL(38,10) scaled by 10^10
         CAST(CAST(sign(num) * ((2 * abs(num) + den) // (2 * den)) AS DECIMAL(38, 0))
              * cc.rounding AS DECIMAL(38, 10)) AS revalued
  FROM (
    SELECT l.currency_id, l.account_id, sum(l.amount_currency) AS amount_currency,
           sum(l.balance) AS booked, count(*) AS items
    FROM posted l
    JOIN fx_accounts x ON x.account_id = l.account_id
    WHERE l.currency_id <> (SELECT currency_id FROM company)
    GROUP BY l.currency_id, l.account_id
  ) f
  JOIN acc a ON a.account_id = f.account_id
  CROSS JOIN company co
  JOIN silver.res_currency cc ON cc.id = co.currency_id
  LEFT JOIN silver.res_currency cur ON cur.id = f.currency_id
  LEFT JOIN rate_at_end r ON r.currency_id = f.currency_id
  LEFT JOIN rate_at_end cr ON cr.currency_id = co.currency_id
  CROSS JOIN LATERAL (SELECT
    CAST(CAST(f.amount_currency AS DECIMAL(38, 10)) * 10000000000 AS HUGEINT)
      * CAST(CAST(coalesce(cr.rate, 1) AS DECIMAL(38, 10)) * 10000000000 AS HUGEINT) AS num,
    CAST(CAST(coalesce(r.rate, 1) AS DECIMAL(38, 10)) * 10000000000 AS HUGEINT)
      * CAST(CAST(cc.rounding AS DECIMAL(38, 10)) * 10000000000 AS HUGEINT) AS den)
),
suspense AS (  -- the company's and its bank journals' suspense accounts
  SELECT p.suspense_account_id AS account_id FROM p WHERE p.suspense_account_id IS NOT NULL
  UNION
  SELECT j.suspense_account_id FROM silver.account_journal j
  WHERE j.company_id = CAST($company_id AS BIGINT) AND j.suspense_account_id IS NOT NULL
),
lock_dates AS (
  SELECT name, value FROM p
  CROSS JOIN LATERAL (VALUES
    ('fiscalyear_lock_date', p.fiscalyear_lock_date),
    ('tax_lock_date', p.tax_lock_date),
    ('period_lock_date', p.period_lock_date),
    ('sale_lock_date', p.sale_lock_date),
    ('purchase_lock_date', p.purchase_lock_date),
    ('hard_lock_date', p.hard_lock_date)
  ) AS t(name, value)
  WHERE (p.odoo_version = '18.0' AND name <> 'period_lock_date')
     OR (p.odoo_version <> '18.0' AND name IN ('fiscalyear_lock_date', 'tax_lock_date', 'period_lock_date'))
),
prev AS (  -- the previous month's close as it was written, if there was one
  SELECT t.* FROM gold.trial_balance t CROSS JOIN p
  WHERE t.source = $source AND t.company_id = p.company_id
    AND t.period = strftime(p.period_start - INTERVAL 1 MONTH, '%Y-%m')
),
expected_opening AS (  -- what that close's closing says this month opens with: the same,
  -- but at the start of a fiscal year income and expense go to undistributed profits
  SELECT CASE WHEN p.period_start = p.fiscal_year_start
                   AND NOT coalesce(a.include_initial_balance, true)
              THEN (SELECT min(account_id) FROM acc WHERE account_type = 'equity_unaffected')
              ELSE pr.account_id END AS account_id,
         sum(pr.closing) AS opening
  FROM prev pr CROSS JOIN p LEFT JOIN acc a ON a.account_id = pr.account_id
  GROUP BY 1
),
reopened AS (  -- accounts whose opening differs from the previous close's closing
  SELECT coalesce(tb.opening, 0) - coalesce(e.opening, 0) AS diff
  FROM expected_opening e FULL JOIN tb ON tb.account_id IS NOT DISTINCT FROM e.account_id
  WHERE (SELECT count(*) FROM prev) > 0 AND coalesce(tb.opening, 0) <> coalesce(e.opening, 0)
),
ageing AS (  -- per account type: the ageing's buckets and total against the open items
  SELECT v.k AS account_type,
         (SELECT coalesce(sum(g.not_due + g.days_1_30 + g.days_31_60 + g.days_61_90 + g.over_90), 0)
          FROM gold.ar_ap_ageing g
          WHERE g.source = $source AND g.company_id = CAST($company_id AS BIGINT)
            AND g.period = $period AND g.account_type = v.k) AS buckets,
         (SELECT coalesce(sum(g.total), 0) FROM gold.ar_ap_ageing g
          WHERE g.source = $source AND g.company_id = CAST($company_id AS BIGINT)
            AND g.period = $period AND g.account_type = v.k) AS total,
         (SELECT coalesce(sum(o.open_amount), 0) FROM gold.open_items o
          WHERE o.source = $source AND o.company_id = CAST($company_id AS BIGINT)
            AND o.period = $period AND o.account_type = v.k) AS open_amount,
         (SELECT count(*) FROM gold.open_items o
          WHERE o.source = $source AND o.company_id = CAST($company_id AS BIGINT)
            AND o.period = $period AND o.account_type = v.k) AS open_items
  FROM (VALUES ('asset_receivable'), ('liability_payable')) v(k)
),
rows AS (
  SELECT 'trial_balance_sums_to_zero' AS check_name,
         CASE WHEN sum(closing) = 0 AND sum(opening) = 0 AND sum(period_balance) = 0
              THEN 'passed' ELSE 'failed' END AS status,
         sum(closing) AS amount, count(*) AS items,
         'opening ' || sum(opening) || ', period ' || sum(period_balance) || ', closing '
           || sum(closing) || ' over ' || count(*) || ' accounts' AS detail
  FROM tb
  UNION ALL
  SELECT 'opening_plus_period_equals_closing',
         CASE WHEN count(*) FILTER (WHERE opening + period_balance <> closing) = 0
              THEN 'passed' ELSE 'failed' END,
         sum(abs(opening + period_balance - closing)),
         count(*) FILTER (WHERE opening + period_balance <> closing),
         'accounts whose opening + period differs from closing'
  FROM tb
  UNION ALL
  SELECT 'closing_equals_ledger',
         CASE WHEN count(*) = 0 THEN 'passed' ELSE 'failed' END,
         coalesce(sum(abs(diff)), 0), count(*),
         'balance-sheet accounts whose closing differs from all their posted items to period end'
  FROM (
    SELECT tb.account_id, tb.closing - coalesce(l.balance, 0) AS diff
    FROM tb JOIN acc ON acc.account_id = tb.account_id AND acc.include_initial_balance
              AND acc.account_type <> 'equity_unaffected'
    LEFT JOIN (SELECT account_id, sum(balance) AS balance FROM posted GROUP BY 1) l
      ON l.account_id = tb.account_id
    WHERE tb.closing <> coalesce(l.balance, 0)
  )
  UNION ALL
  SELECT CASE t.account_type WHEN 'asset_receivable' THEN 'receivables_tie_out'
                             ELSE 'payables_tie_out' END,
         CASE WHEN count(*) FILTER (WHERE difference <> 0) = 0 THEN 'passed' ELSE 'failed' END,
         sum(open_items_amount),
         sum(open_items),
         count(DISTINCT partner_id) || ' partner(s); ' || count(*) FILTER (WHERE difference <> 0)
           || ' differ from the ledger by ' || sum(abs(difference))
  FROM (SELECT * FROM tie UNION ALL BY NAME
        SELECT k AS account_type, 0 AS open_items, 0 AS open_items_amount, 0 AS difference
        FROM (VALUES ('asset_receivable'), ('liability_payable')) v(k)) t
  GROUP BY t.account_type
  UNION ALL
  SELECT CASE account_type WHEN 'asset_receivable' THEN 'receivables_ageing_ties_out'
                           ELSE 'payables_ageing_ties_out' END,
         CASE WHEN buckets = open_amount AND total = open_amount THEN 'passed' ELSE 'failed' END,
         buckets, open_items,
         'ageing buckets sum to ' || buckets || ' (total ' || total || '); open items '
           || open_amount || ' over ' || open_items || ' item(s)'
  FROM ageing
  UNION ALL
  SELECT 'previous_close_unchanged',
         CASE WHEN (SELECT count(*) FROM prev) = 0 THEN 'info'
              WHEN count(*) = 0 THEN 'passed' ELSE 'warning' END,
         coalesce(sum(abs(diff)), 0), count(*),
         CASE WHEN (SELECT count(*) FROM prev) = 0
              THEN 'no close of the month before to compare the opening balances with'
              WHEN count(*) = 0
              THEN 'the opening balances are the closing balances of the month before as closed'
              ELSE count(*) || ' account(s) open differently from the close of the month before'
                   || ' as it was written (by ' || sum(abs(diff)) || ' in all): entries dated'
                   || ' in a closed month changed since; close it again' END
  FROM reopened
  UNION ALL
  SELECT 'draft_entries_in_period',
         CASE WHEN count(*) = 0 THEN 'passed' ELSE 'warning' END,
         coalesce(sum(m.amount_total), 0), count(*),
         'entries of the month not posted (draft)'
  FROM silver.account_move m JOIN p ON m.company_id = p.company_id
    AND m.date BETWEEN p.period_start AND p.period_end
  WHERE m.state = 'draft'
  UNION ALL
  SELECT 'lock_date:' || name,
         CASE WHEN value >= (SELECT period_end FROM p) THEN 'passed' ELSE 'warning' END,
         NULL, NULL,
         CASE WHEN value IS NULL THEN 'not set: the month can still be changed'
              WHEN value >= (SELECT period_end FROM p) THEN 'locked up to ' || value
              ELSE 'locked up to ' || value || ' only: the month can still be changed' END
  FROM lock_dates
  UNION ALL
  SELECT 'suspense_cleared',
         CASE WHEN coalesce(sum(l.balance), 0) = 0 THEN 'passed' ELSE 'warning' END,
         coalesce(sum(l.balance), 0), count(l.id),
         'balance at period end of the bank suspense account(s)'
  FROM suspense s LEFT JOIN posted l ON l.account_id = s.account_id
  UNION ALL
  SELECT 'outstanding_receipts_cleared',
         CASE WHEN coalesce(sum(l.balance), 0) = 0 THEN 'passed' ELSE 'warning' END,
         coalesce(sum(l.balance), 0), count(l.id),
         'balance at period end of the outstanding receipts account'
  FROM p LEFT JOIN posted l ON l.account_id = p.outstanding_receipts_account_id
  UNION ALL
  SELECT 'outstanding_payments_cleared',
         CASE WHEN coalesce(sum(l.balance), 0) = 0 THEN 'passed' ELSE 'warning' END,
         coalesce(sum(l.balance), 0), count(l.id),
         'balance at period end of the outstanding payments account'
  FROM p LEFT JOIN posted l ON l.account_id = p.outstanding_payments_account_id
  UNION ALL
  SELECT 'unreconciled_bank_lines',
         CASE WHEN count(b.id) = 0 THEN 'passed' ELSE 'warning' END,
         coalesce(sum(b.amount), 0), count(b.id),
         'bank statement lines dated by period end not reconciled'
  FROM silver.account_bank_statement_line b
  JOIN silver.account_move m ON m.id = b.move_id
  JOIN p ON m.company_id = p.company_id AND m.date <= p.period_end
  WHERE NOT coalesce(b.is_reconciled, false) AND m.state = 'posted'
  UNION ALL
  SELECT 'foreign_currency:' || coalesce(c.name, CAST(l.currency_id AS VARCHAR)),
         'info',
         sum(l.balance), count(*),
         'receivables, payables and foreign-currency accounts in this currency: '
           || sum(l.amount_currency) || ' ' || coalesce(c.name, '?') || ' booked at '
           || sum(l.balance) || ' company currency (fx_revaluation rows: at the period-end rate)'
  FROM posted l
  JOIN fx_accounts x ON x.account_id = l.account_id
  LEFT JOIN silver.res_currency c ON c.id = l.currency_id
  WHERE l.currency_id <> (SELECT currency_id FROM company)
  GROUP BY c.name, l.currency_id
  HAVING sum(l.amount_currency) <> 0
  UNION ALL
  SELECT 'fx_revaluation:' || coalesce(currency, CAST(currency_id AS VARCHAR)) || ':'
           || coalesce(code, CAST(account_id AS VARCHAR)),
         CASE WHEN abs(revalued - booked) <= rounding THEN 'passed' ELSE 'warning' END,
         revalued - booked, items,
         -- the account by code and name, as the controller finds it in the trial balance
         coalesce(code, 'account ' || account_id) || coalesce(' ' || account_name, '') || ': '
           || amount_currency || ' ' || coalesce(currency, '?') || ' at '
           || CASE WHEN rate_date IS NULL THEN 'no rate (1)'
                   ELSE rate || ' per ' || company_rate || ' ' || company_currency
                        || ' (rate of ' || rate_date || ')' END
           || ' = ' || revalued || ' ' || company_currency || ', booked ' || booked || ': '
           || CASE WHEN abs(revalued - booked) <= rounding THEN 'nothing to revalue'
                   WHEN revalued > booked THEN 'unrealized gain of ' || (revalued - booked)
                                               || ' not booked'
                   ELSE 'unrealized loss of ' || (booked - revalued) || ' not booked' END
  FROM fx
  WHERE amount_currency <> 0 OR booked <> 0
)
SELECT
  CAST($source AS VARCHAR) AS source,
  CAST($company_id AS BIGINT) AS company_id,
  CAST($period AS VARCHAR) AS period,
  check_name,
  status,
  CAST(amount AS DECIMAL(38, 10)) AS amount,
  CAST(items AS BIGINT) AS items,
  detail
FROM rows
ORDER BY check_name
