-- The close is done: one row per table it read or wrote, with the version it used, so a
-- past close reads back exactly as it was (lake.read(table, version=...)). A close with a
-- failed check stops here and records nothing: the run fails naming the checks.
WITH failed AS (
  SELECT string_agg(check_name || ' (' || detail || ')', '; ') AS names, count(*) AS n
  FROM gold.close_checks
  WHERE source = $source AND company_id = CAST($company_id AS BIGINT) AND period = $period
    AND status = 'failed'
),
read AS (  -- naming the tables pins them: pinned_versions lists them at their versions
  SELECT count(*) AS n FROM silver.account_move_line
  UNION ALL SELECT count(*) FROM silver.account_move
  UNION ALL SELECT count(*) FROM silver.account_account
  UNION ALL SELECT count(*) FROM silver.account_partial_reconcile
  UNION ALL SELECT count(*) FROM silver.account_journal
  UNION ALL SELECT count(*) FROM silver.account_bank_statement_line
  UNION ALL SELECT count(*) FROM silver.res_company
  UNION ALL SELECT count(*) FROM silver.res_partner
  UNION ALL SELECT count(*) FROM silver.res_currency
  UNION ALL SELECT count(*) FROM silver.ir_module_module
  UNION ALL SELECT count(*) FROM silver.account_by_company
  UNION ALL SELECT count(*) FROM gold.close_periods
  UNION ALL SELECT count(*) FROM gold.trial_balance
  UNION ALL SELECT count(*) FROM gold.open_items
  UNION ALL SELECT count(*) FROM gold.open_items_by_partner
  UNION ALL SELECT count(*) FROM gold.ar_ap_ageing
)
SELECT
  CAST($source AS VARCHAR) AS source,
  CAST($company_id AS BIGINT) AS company_id,
  CAST($period AS VARCHAR) AS period,
  v.run_id,
  CAST(now() AS TIMESTAMP WITH TIME ZONE) AS closed_at,
  v.table_name,
  v.version
FROM pinned_versions v, failed f
WHERE (SELECT sum(n) FROM read) >= 0
  AND CASE WHEN f.n > 0
           THEN error('close of ' || $period || ' for company ' || $company_id || ': '
                      || f.n || ' failed check(s): ' || f.names)
           ELSE true END
ORDER BY v.table_name
