// NKey users and decentralized (operator mode) JWT credentials for the
// authentication tests: an operator, an account and its users, signed with
// nkeys as nats-server expects, and the .creds files nats.js reads.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAccount, createOperator, createUser, type KeyPair } from '@nats-io/nkeys';
import type { AllowLists } from './security';

const b64url = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url');

/**
 * Encodes and signs a NATS JWT: header `{ typ: 'JWT', alg: 'ed25519-nkey' }`,
 * the claims with `iat`, `iss` (signer's public key), `sub` and a `jti` (a
 * hash of the other claims), signed with ed25519 over `header.payload`.
 * @returns the JWT
 */
export function signJwt(signer: KeyPair, sub: string, name: string, nats: Record<string, unknown>): string {
  const claims: Record<string, unknown> = {
    iat: Math.floor(Date.now() / 1000),
    iss: signer.getPublicKey(),
    name,
    sub,
    nats,
  };
  claims.jti = createHash('sha256').update(JSON.stringify(claims)).digest('hex').toUpperCase().slice(0, 52);
  const head = b64url(JSON.stringify({ typ: 'JWT', alg: 'ed25519-nkey' }));
  const body = b64url(JSON.stringify(claims));
  const signature = signer.sign(new TextEncoder().encode(`${head}.${body}`));
  return `${head}.${body}.${b64url(signature)}`;
}

/** An operator with one account, as the server's trusted configuration. */
export interface Operator {
  readonly operatorJwt: string;
  readonly account: KeyPair;
  readonly accountJwt: string;
  /** The nats-server configuration that trusts the operator and preloads the account (resolver MEMORY). */
  readonly serverConfig: string;
  /**
   * Issues a user of the account with the given permissions (signed by
   * `signer`, the account by default) and writes its .creds file into dir.
   * @returns the file's path
   */
  userCreds(dir: string, name: string, allow: AllowLists, signer?: KeyPair): string;
}

const NO_LIMIT = -1;

/**
 * Makes an operator key, a self-signed operator JWT, an account and a system
 * account signed by it, and the server configuration that trusts them.
 * @returns the operator
 */
export function makeOperator(): Operator {
  const op = createOperator();
  const operatorJwt = signJwt(op, op.getPublicKey(), 'raftline-test-operator', {
    type: 'operator',
    version: 2,
  });
  const account = createAccount();
  const accountJwt = signJwt(op, account.getPublicKey(), 'raftline', accountClaims());
  // JetStream (nats-server -js) in operator mode needs a system account.
  const system = createAccount();
  const systemJwt = signJwt(op, system.getPublicKey(), 'SYS', accountClaims());
  const serverConfig = `
operator: ${operatorJwt}
resolver: MEMORY
system_account: ${system.getPublicKey()}
resolver_preload: {
  ${account.getPublicKey()}: ${accountJwt}
  ${system.getPublicKey()}: ${systemJwt}
}
`;
  return {
    operatorJwt,
    account,
    accountJwt,
    serverConfig,
    userCreds: (dir, name, allow, signer = account) => {
      const user = createUser();
      const jwt = signJwt(signer, user.getPublicKey(), name, {
        pub: { allow: allow.publish },
        sub: { allow: allow.subscribe },
        subs: NO_LIMIT,
        data: NO_LIMIT,
        payload: NO_LIMIT,
        type: 'user',
        version: 2,
      });
      const file = join(dir, `${name}.creds`);
      writeFileSync(file, credsText(jwt, new TextDecoder().decode(user.getSeed())), { mode: 0o600 });
      return file;
    },
  };
}

/** An account's claims without limits. */
function accountClaims(): Record<string, unknown> {
  return {
    limits: {
      subs: NO_LIMIT,
      data: NO_LIMIT,
      payload: NO_LIMIT,
      imports: NO_LIMIT,
      exports: NO_LIMIT,
      wildcards: true,
      conn: NO_LIMIT,
      leaf: NO_LIMIT,
    },
    default_permissions: { pub: {}, sub: {} },
    type: 'account',
    version: 2,
  };
}

/** A .creds file's text, as nsc writes it: the user JWT, then its NKey seed. */
function credsText(jwt: string, seed: string): string {
  return [
    '-----BEGIN NATS USER JWT-----',
    jwt,
    '------END NATS USER JWT------',
    '',
    '************************* IMPORTANT *************************',
    'NKEY Seed printed below can be used to sign and prove identity.',
    '',
    '-----BEGIN USER NKEY SEED-----',
    seed,
    '------END USER NKEY SEED------',
    '',
  ].join('\n');
}
