/**
 * Small formatting and parsing helpers of the table view.
 */

/**
 * Tags as typed ("finance, Month-End  pii") -> the server's form: lower
 * case, no duplicates, in the order typed. Commas and spaces separate tags.
 */
export function parseTags(text: string): string[] {
  const tags: string[] = [];
  for (const part of text.split(/[,\s]+/)) {
    const tag = part.trim().toLowerCase();
    if (tag && !tags.includes(tag)) {
      tags.push(tag);
    }
  }
  return tags;
}

/**
 * A row estimate for people: `6,396 rows`, `~1.2M rows`; empty when unknown.
 */
export function formatRowEstimate(rows: number | null | undefined): string {
  if (typeof rows !== 'number' || !Number.isFinite(rows) || rows < 0) {
    return '';
  }
  if (rows >= 1_000_000) {
    return `~${(rows / 1_000_000).toFixed(1)}M rows`;
  }
  return `${rows.toLocaleString('en-US')} ${rows === 1 ? 'row' : 'rows'}`;
}

/**
 * A preview value as text: `NULL` for null, JSON for objects and arrays.
 */
export function formatCell(value: unknown): string {
  if (value === null || value === undefined) {
    return 'NULL';
  }
  if (typeof value === 'object') {
    return JSON.stringify(value);
  }
  return String(value);
}

/**
 * A server timestamp (UTC, possibly without zone) as `YYYY-MM-DD HH:MM`.
 */
export function formatTimestamp(value: string | null | undefined): string {
  if (!value) {
    return '';
  }
  return value.replace('T', ' ').slice(0, 16);
}
