-- Each account of each company with its code, as every version stores them: 16 and 17
-- keep code and company_id on the account; 18 keeps one account for several companies
-- (company_ids) and its code per (root) company in the company-dependent jsonb code_store.
-- include_initial_balance (stored by 16 and 17, computed by 18) is the stored value when
-- there is one, else Odoo's own rule: every account but income and expense ones.
WITH a AS (
  SELECT x.id, x.account_type, to_json(x) AS j
  FROM silver.account_account x
),
companies AS (  -- 18 keys code_store by the root company (a branch uses its root's code)
  SELECT c.id AS company_id,
         coalesce(TRY_CAST(split_part(json_extract_string(to_json(c), '$.parent_path'), '/', 1)
                           AS BIGINT), c.id) AS root_id
  FROM silver.res_company c
),
coded AS (
  SELECT a.id AS account_id, CAST(json_extract_string(a.j, '$.company_id') AS BIGINT) AS company_id,
         json_extract_string(a.j, '$.code') AS code, a.account_type, a.j
  FROM a
  WHERE json_extract_string(a.j, '$.code') IS NOT NULL
  UNION ALL
  SELECT a.id, c.company_id,
         json_extract_string(CAST(json_extract_string(a.j, '$.code_store') AS JSON), '$."' || c.root_id || '"'),
         a.account_type, a.j
  FROM a CROSS JOIN companies c
  WHERE json_extract_string(a.j, '$.code') IS NULL AND json_extract_string(a.j, '$.code_store') IS NOT NULL
    AND json_extract_string(CAST(json_extract_string(a.j, '$.code_store') AS JSON), '$."' || c.root_id || '"') IS NOT NULL
)
SELECT
  CAST($source AS VARCHAR) AS source,
  account_id,
  company_id,
  code,
  coalesce(json_extract_string(j, '$.name_en_us'),  -- translated (jsonb) or plain text
           CASE WHEN json_valid(json_extract_string(j, '$.name'))
                THEN json_extract_string(json_extract_string(j, '$.name'), '$.en_US') END,
           json_extract_string(j, '$.name')) AS account_name,
  account_type,
  coalesce(CAST(json_extract_string(j, '$.include_initial_balance') AS BOOLEAN),
           NOT (account_type LIKE 'income%' OR account_type LIKE 'expense%')) AS include_initial_balance
FROM coded
