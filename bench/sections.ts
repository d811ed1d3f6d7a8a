// A bench's section of a page written by another bench: the block between
// `<!-- NAME bench: begin -->` and `<!-- NAME bench: end -->`, kept when the
// page is rewritten. Pure.

export const markers = (name: string) => ({
  begin: `<!-- ${name} bench: begin -->`,
  end: `<!-- ${name} bench: end -->`,
});

/** page with its `name` section replaced by (or, if it has none, followed by) the one in md. */
export function withSection(page: string, md: string, name: string): string {
  const { begin, end } = markers(name);
  const from = md.indexOf(begin);
  const to = md.indexOf(end);
  if (from < 0 || to < 0) return page;
  const block = md.slice(from, to + end.length);
  const a = page.indexOf(begin);
  const b = page.indexOf(end);
  if (a >= 0 && b > a) return page.slice(0, a) + block + page.slice(b + end.length);
  return `${page.trimEnd()}\n\n${block}\n`;
}
