import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './require-tool.js';

/** A self-signed certificate for 127.0.0.1 (one day), made by openssl in a fresh directory. */
export function selfSignedCert(): { dir: string; cert: string; key: string } {
  requireTool('openssl');
  const dir = mkdtempSync(join(tmpdir(), 'pf-tls-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'pipe' });
  return { dir, cert, key };
}
