// The grid's arithmetic: which rows are rendered for a scroll position, where the keyboard
// moves, and how far to scroll to show a row.
import { describe, expect, it } from 'vitest';
import { gridColumns, gridKeyTarget, gridWindow, scrollToRow } from '../../../renderer/composables/gallery/gridWindow';

const g = { width: 800, height: 600, cell: 160, gap: 8 };

describe('gallery grid window', () => {
  it('fits whole cells per row and renders the visible rows plus the overscan only', () => {
    expect(gridColumns(g)).toBe(4); // 4 * 160 + 3 * 8 = 664 <= 800 < 5 * 160 + 4 * 8
    expect(gridColumns({ ...g, width: 10 })).toBe(1);
    const top = gridWindow(g, 100_000, 0, 2);
    expect(top).toMatchObject({ columns: 4, rowHeight: 168, totalRows: 25_000, firstRow: 0 });
    expect(top.lastRow).toBe(Math.ceil(600 / 168) + 1 + 2);
    expect(top.contentHeight).toBe(25_000 * 168 - 8);
    const middle = gridWindow(g, 100_000, 168 * 12_000 + 50, 2);
    expect(middle.firstRow).toBe(12_000 - 2);
    expect(middle.lastRow - middle.firstRow).toBe(Math.ceil(600 / 168) + 1 + 4);
    // Past the end (a list that shrank): nothing beyond the last row.
    const past = gridWindow(g, 10, 168 * 50, 2);
    expect(past.totalRows).toBe(3);
    expect(past.firstRow).toBeLessThanOrEqual(past.lastRow);
    expect(past.lastRow).toBe(3);
    expect(gridWindow(g, 0, 0).lastRow).toBe(0);
  });

  it('scrolls just enough to show a row, and not at all when it is visible', () => {
    expect(scrollToRow(0, 168, 8, 0, 600)).toBeNull();
    expect(scrollToRow(5, 168, 8, 0, 600)).toBe(5 * 168 + 160 - 600);
    expect(scrollToRow(2, 168, 8, 1000, 600)).toBe(336);
  });

  it('moves the keyboard focus within the list', () => {
    expect(gridKeyTarget('ArrowRight', 3, 10, 4, 3)).toBe(4);
    expect(gridKeyTarget('ArrowRight', 9, 10, 4, 3)).toBe(9);
    expect(gridKeyTarget('ArrowLeft', 0, 10, 4, 3)).toBe(0);
    expect(gridKeyTarget('ArrowDown', 1, 10, 4, 3)).toBe(5);
    expect(gridKeyTarget('ArrowDown', 8, 10, 4, 3)).toBe(9);
    expect(gridKeyTarget('ArrowUp', 5, 10, 4, 3)).toBe(1);
    expect(gridKeyTarget('PageDown', 0, 100, 4, 3)).toBe(12);
    expect(gridKeyTarget('PageUp', 50, 100, 4, 3)).toBe(38);
    expect(gridKeyTarget('Home', 50, 100, 4, 3)).toBe(0);
    expect(gridKeyTarget('End', 0, 100, 4, 3)).toBe(99);
    expect(gridKeyTarget('x', 0, 100, 4, 3)).toBeNull();
    expect(gridKeyTarget('End', 0, 0, 4, 3)).toBeNull();
  });
});
