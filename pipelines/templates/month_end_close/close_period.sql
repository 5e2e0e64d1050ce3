-- The month closed for one company of one source: its bounds, the company's fiscal year
-- (fiscalyear_last_day/_month), the Odoo version (the base module's) and the lock dates
-- each version stores. Refused, with nothing written, for a malformed period, a company
-- the source does not have, an Odoo version the close does not know, or a month without
-- a posted journal item.
WITH wanted AS (
  SELECT CAST($company_id AS BIGINT) AS company_id, CAST($period AS VARCHAR) AS period
),
base AS (
  SELECT max(m.latest_version) AS latest_version
  FROM silver.ir_module_module m
  WHERE m.name = 'base'
),
company AS (
  SELECT c.id, c.name, c.currency_id, to_json(c) AS j
  FROM silver.res_company c
  WHERE c.id = CAST($company_id AS BIGINT)
),
posted AS (
  SELECT count(*) AS items
  FROM silver.account_move_line l, wanted w
  WHERE l.company_id = w.company_id AND l.parent_state = 'posted'
    AND strftime(l.date, '%Y-%m') = w.period
),
checked AS (
  SELECT w.company_id, w.period, b.latest_version, c.name AS company_name, c.currency_id, c.j,
    CASE
      WHEN NOT regexp_full_match(w.period, '[0-9]{4}-(0[1-9]|1[0-2])')
        THEN error('period ' || w.period || ': give a month as YYYY-MM')
      WHEN c.id IS NULL
        THEN error('company ' || w.company_id || ' does not exist in source ' || $source
                   || ' (no such res_company): nothing was closed or overwritten')
      WHEN b.latest_version IS NULL
        THEN error('source ' || $source || ': no base module in ir_module_module, not an Odoo database')
      WHEN split_part(b.latest_version, '.', 1) NOT IN ('16', '17', '18')
        THEN error('source ' || $source || ' runs Odoo ' || b.latest_version
                   || ': the close reads Odoo 16, 17 and 18')
      WHEN p.items = 0
        THEN error('company ' || w.company_id || ' has no posted journal item in ' || w.period
                   || ': an empty month is not closed (was the extract complete?)')
      ELSE CAST(w.period || '-01' AS DATE)
    END AS period_start
  FROM wanted w CROSS JOIN base b CROSS JOIN posted p LEFT JOIN company c ON true
),
fiscal AS (
  SELECT *,
    CAST(json_extract_string(j, '$.fiscalyear_last_month') AS INTEGER) AS fy_month,
    CAST(json_extract_string(j, '$.fiscalyear_last_day') AS INTEGER) AS fy_day
  FROM checked
),
fy_end AS (
  SELECT *,
    make_date(year(period_start), fy_month,
              least(fy_day, day(last_day(make_date(year(period_start), fy_month, 1))))) AS this_end,
    make_date(year(period_start) - 1, fy_month,
              least(fy_day, day(last_day(make_date(year(period_start) - 1, fy_month, 1))))) AS last_end
  FROM fiscal
)
SELECT
  CAST($source AS VARCHAR) AS source,
  company_id,
  period,
  company_name,
  currency_id,
  CAST(split_part(latest_version, '.', 1) || '.0' AS VARCHAR) AS odoo_version,
  latest_version AS base_version,
  period_start,
  last_day(period_start) AS period_end,
  CAST(CASE WHEN period_start > this_end THEN this_end ELSE last_end END + INTERVAL 1 DAY AS DATE)
    AS fiscal_year_start,
  CAST(json_extract_string(j, '$.fiscalyear_lock_date') AS DATE) AS fiscalyear_lock_date,
  CAST(json_extract_string(j, '$.tax_lock_date') AS DATE) AS tax_lock_date,
  CAST(json_extract_string(j, '$.period_lock_date') AS DATE) AS period_lock_date,
  CAST(json_extract_string(j, '$.sale_lock_date') AS DATE) AS sale_lock_date,
  CAST(json_extract_string(j, '$.purchase_lock_date') AS DATE) AS purchase_lock_date,
  CAST(json_extract_string(j, '$.hard_lock_date') AS DATE) AS hard_lock_date,
  CAST(json_extract_string(j, '$.account_journal_suspense_account_id') AS BIGINT) AS suspense_account_id,
  CAST(json_extract_string(j, '$.account_journal_payment_debit_account_id') AS BIGINT) AS outstanding_receipts_account_id,
  CAST(json_extract_string(j, '$.account_journal_payment_credit_account_id') AS BIGINT) AS outstanding_payments_account_id
FROM fy_end
