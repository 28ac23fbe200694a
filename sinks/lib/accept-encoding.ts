/**
 * Whether a request's Accept-Encoding admits gzip (RFC 9110 §12.5.3): `gzip` or `*` with a
 * non-zero q. Prometheus always sends `Accept-Encoding: gzip`; curl without --compressed sends
 * nothing and gets plain text.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let star: boolean | undefined;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const acceptable = q === undefined || Number(q.slice(2)) > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return acceptable;
    if (coding === '*') star = acceptable;
  }
  return star ?? false;
}
