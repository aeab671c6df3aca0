// Which rows of a virtualised grid are on screen: fixed-size cells, so the window is arithmetic
// on the scroll position and nothing is measured per item.

export interface GridGeometry {
  /** Inner width of the scrolling container (px). */
  width: number;
  /** Visible height of the scrolling container (px). */
  height: number;
  /** Cell edge (px) and the gap between cells. */
  cell: number;
  gap: number;
}

export interface GridWindow {
  columns: number;
  /** Distance from one row's top to the next row's top. */
  rowHeight: number;
  totalRows: number;
  /** Rows [firstRow, lastRow) are rendered (visible ones plus `overscan` either side). */
  firstRow: number;
  lastRow: number;
  /** Total height of the content, for the scrollbar. */
  contentHeight: number;
}

export function gridColumns(g: Pick<GridGeometry, 'width' | 'cell' | 'gap'>): number {
  return Math.max(1, Math.floor((g.width + g.gap) / (g.cell + g.gap)));
}

export function gridWindow(g: GridGeometry, count: number, scrollTop: number, overscan = 2): GridWindow {
  const columns = gridColumns(g);
  const rowHeight = g.cell + g.gap;
  const totalRows = Math.ceil(count / columns);
  const top = Math.max(0, Math.floor(scrollTop / rowHeight));
  const visible = Math.ceil(g.height / rowHeight) + 1;
  const firstRow = Math.max(0, Math.min(top - overscan, totalRows));
  const lastRow = Math.max(firstRow, Math.min(totalRows, top + visible + overscan));
  return { columns, rowHeight, totalRows, firstRow, lastRow, contentHeight: Math.max(0, totalRows * rowHeight - g.gap) };
}

/** The scrollTop that brings `row` fully into view, or null when it already is. */
export function scrollToRow(row: number, rowHeight: number, gap: number, scrollTop: number, height: number): number | null {
  const top = row * rowHeight;
  const bottom = top + rowHeight - gap;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + height) return bottom - height;
  return null;
}

/** Where a keyboard key moves the focus in a grid of `count` items; null for other keys. */
export function gridKeyTarget(key: string, index: number, count: number, columns: number, rowsPerPage: number): number | null {
  if (count === 0) return null;
  const clamp = (i: number) => Math.max(0, Math.min(count - 1, i));
  switch (key) {
    case 'ArrowRight':
      return clamp(index + 1);
    case 'ArrowLeft':
      return clamp(index - 1);
    case 'ArrowDown':
      return clamp(index + columns);
    case 'ArrowUp':
      return clamp(index - columns);
    case 'PageDown':
      return clamp(index + columns * Math.max(1, rowsPerPage));
    case 'PageUp':
      return clamp(index - columns * Math.max(1, rowsPerPage));
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return null;
  }
}
