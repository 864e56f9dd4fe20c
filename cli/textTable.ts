/**
 * Text tables of any length: a header, a rule, rows, columns padded to a width and the last one not
 * padded. Widths are found with a loop, never by spreading the rows into `Math.max` (which overflows the
 * stack past about 120,000 rows: `xenpool events` on a long history did).
 *
 * `StreamedTable` prints a table page by page, for output too long to hold: its widths are planned
 * before the first row from what the caller knows of the rows (the last revision, the longest event
 * name), and a cell wider than planned widens its column from that row on.
 */

const formatLine = (cells: ReadonlyArray<string>, widths: ReadonlyArray<number>): string => {
  let line = ""
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i]!
    line += i === cells.length - 1 ? cell : `${cell.padEnd(widths[i] ?? 0)}  `
  }
  return line.trimEnd()
}

/** The widest cell of each column, the header's included. */
export const columnWidths = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>
): ReadonlyArray<number> => {
  const widths = header.map((h) => h.length)
  for (const row of rows)
    for (let i = 0; i < widths.length; i++) widths[i] = Math.max(widths[i]!, (row[i] ?? "").length)
  return widths
}

/** A whole table: header, rule, rows. */
export const textTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = columnWidths(header, rows)
  const lines = [
    formatLine(header, widths),
    formatLine(
      widths.map((w) => "-".repeat(w)),
      widths
    )
  ]
  for (const row of rows) lines.push(formatLine(row, widths))
  return lines.join("\n")
}

/** A table printed as it goes: `head()` once, then `rows(page)` for each page. */
export class StreamedTable {
  private readonly widths: number[]

  /** `plannedWidths[i]`: the widest cell expected in column i (the header's width at least). */
  constructor(
    private readonly header: ReadonlyArray<string>,
    plannedWidths: ReadonlyArray<number>
  ) {
    this.widths = header.map((h, i) => Math.max(h.length, plannedWidths[i] ?? 0))
  }

  /** Widens a column's planned width, before `head()`: for a figure learnt after the table was made. */
  plan(column: number, width: number): void {
    this.widths[column] = Math.max(this.widths[column]!, width)
  }

  /** The header and its rule (the last column's rule as long as its header: its cells are not known yet). */
  head(): string {
    const rule = this.widths.map((w, i) => "-".repeat(i === this.widths.length - 1 ? this.header[i]!.length : w))
    return `${formatLine(this.header, this.widths)}\n${formatLine(rule, this.widths)}\n`
  }

  /** The lines of these rows, each ending in a newline. */
  rows(rows: ReadonlyArray<ReadonlyArray<string>>): string {
    let text = ""
    for (const row of rows) {
      for (let i = 0; i < this.widths.length - 1; i++) this.widths[i] = Math.max(this.widths[i]!, (row[i] ?? "").length)
      text += `${formatLine(row, this.widths)}\n`
    }
    return text
  }
}
