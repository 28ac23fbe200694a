/** ":9464" → all interfaces; "127.0.0.1:9464"; "[::1]:9464". */
export function parseListen(listen: string): { host?: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen);
  if (!m) throw new Error(`listen "${listen}" is not host:port`);
  const host = m[1] ?? m[2];
  return { ...(host ? { host } : {}), port: Number(m[3]) };
}
