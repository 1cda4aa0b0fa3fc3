type Cell = string | number | undefined;

/** One CSV line as MIMIC writes it: fields quoted only when they hold a comma, quote or line break. */
export function csvLine(cells: readonly Cell[]): string {
  return cells.map(csvCell).join(',');
}

function csvCell(cell: Cell): string {
  if (cell === undefined) return '';
  const text = String(cell);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** `YYYY-MM-DD HH:MM:SS` in UTC, the timestamp format of every MIMIC CSV. */
export function formatDateTime(time: number): string {
  return new Date(time).toISOString().slice(0, 19).replace('T', ' ');
}

/** `YYYY-MM-DD`, the format of patients.dod. */
export function formatDate(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}
