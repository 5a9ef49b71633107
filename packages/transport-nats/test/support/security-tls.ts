// Certificates for the TLS tests, made with openssl in a temporary directory:
// a CA, a server certificate for 127.0.0.1 and localhost, and client
// certificates for mutual TLS.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its private key, as PEM files and as their text. */
export interface CertFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
}

/** What makeCertificates produced. */
export interface TestPki {
  readonly dir: string;
  readonly caFile: string;
  /** The CA certificate (PEM). */
  readonly ca: string;
  readonly server: CertFiles;
  /** Signs a client certificate with common name cn (extendedKeyUsage clientAuth). */
  client(cn: string): CertFiles;
  /** Removes the directory and every file in it. */
  dispose(): void;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function keyAndRequest(dir: string, name: string, cn: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
}

function sign(dir: string, name: string, extensions: string): CertFiles {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'].concat([
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-sha256',
      '-extfile',
      `${name}.ext`,
    ]),
    dir,
  );
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}

/**
 * Makes a fresh CA (`name` in its subject) and a server certificate for
 * 127.0.0.1 and localhost in a new temporary directory.
 * @returns the files; call dispose() to remove them
 * @throws Error (from execFileSync) when openssl fails
 */
export function makeCertificates(name = 'raftline test CA'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'raftline-pki-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${name}`],
    dir,
  );
  keyAndRequest(dir, 'server', 'localhost');
  const server = sign(
    dir,
    'server',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n',
  );
  let clients = 0;
  const caFile = join(dir, 'ca.pem');
  return {
    dir,
    caFile,
    ca: readFileSync(caFile, 'utf8'),
    server,
    client: (cn) => {
      const file = `client${clients++}`;
      keyAndRequest(dir, file, cn);
      return sign(dir, file, 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n');
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * The nats-server `tls {}` block for pki's server certificate; with
 * `verify`, every client must present a certificate the CA signed.
 * @returns the configuration text
 */
export function tlsConfig(pki: TestPki, verify: boolean): string {
  return `
tls {
  cert_file: "${pki.server.certFile}"
  key_file: "${pki.server.keyFile}"
  ca_file: "${pki.caFile}"
  verify: ${verify}
  timeout: 5
}
`;
}

/**
 * Speaks plain-text NATS to 127.0.0.1:port: reads the server's INFO, sends
 * CONNECT and PING without TLS, and collects what the server answers until
 * it closes the connection (or 5 s pass).
 * @returns the server's INFO line and everything it sent after it
 */
export function plainTextAttempt(port: number): Promise<{ info: string; reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    let text = '';
    let sent = false;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      s.destroy();
      const newline = text.indexOf('\r\n');
      resolve({ info: text.slice(0, newline), reply: text.slice(newline + 2), closed });
    };
    const timer = setTimeout(() => finish(false), 5000);
    s.on('data', (b: Buffer) => {
      text += b.toString('latin1');
      if (!sent && text.includes('\r\n')) {
        sent = true;
        s.write('CONNECT {"verbose":false,"pedantic":false,"name":"plain"}\r\nPING\r\n');
      }
    });
    s.on('close', () => finish(true));
    s.on('error', () => undefined);
  });
}
