import { isIP, type Socket } from 'node:net';
import type { DecisionContext } from '../../core/decision.js';
import type { Resolution } from '../../core/data-plane-core.js';
import type { BindingRoute, ServiceRoute } from '../../core/services/service-table.js';
import type { CacheEntry, TokenEntry } from '../../core/tokens/token-entry.js';
import type { ReasonCode } from '../../errors/index.js';
import { MAX_TOKEN_LENGTH } from '../../token/index.js';
import { connectUpstream, UpstreamFailure, type UpstreamSession } from '../upstream/connect.js';
import { endpointOf } from '../upstream/connector.js';
import { parseFrontend, parseStartup, PROTOCOL_V3 } from '../wire/frontend-parser.js';
import { ProtocolViolation, type Frame } from '../wire/messages.js';
import { backend } from '../wire/serializer.js';
import { decisionAt } from './decision.js';
import type { SessionDeps } from './deps.js';
import { mayWrite } from './scopes.js';

// The startup phase, before the first ReadyForQuery, and what it refuses with:
//
//   SSLRequest                  answered `S` and the connection becomes TLS when the listener has a
//                               certificate (see ../tls.ts), else `N`; 08P01 when already encrypted
//   GSSENCRequest               answered `N` (no GSS encryption)
//   CancelRequest               sent on to the backend of the session holding the key, then closed
//   StartupMessage              08P01 (not protocol 3.0), 28000 invalid_request (neither TLS nor
//                               loopback: the token would travel in clear text; or not TLS where
//                               the listener requires it)
//   service                     FATAL 3D000 service_unknown (the database names no postgres service)
//   password (the token)        FATAL 28P01 token_missing, token_malformed, token_unknown, token_*;
//                               42501 env_mismatch, ip_not_allowed, permission_denied (no permission
//                               on the service at all); 57P03 store_unavailable, audit_unavailable;
//                               08001 upstream_credential_missing, upstream_unreachable, upstream_timeout;
//                               53300/53400 concurrency_limited, rate_limited, usage_exhausted
//
// The session's slot (concurrency, rate, usage) is taken once, at startup:
// limits count sessions, not statements.

export interface Established {
  readonly token: string;
  readonly found: CacheEntry;
  readonly entry: TokenEntry;
  readonly service: ServiceRoute;
  readonly binding: BindingRoute;
  /** The session's own decision: holds its slot until the session ends. */
  readonly decision: DecisionContext;
  readonly upstream: UpstreamSession;
}

export type StartupStep =
  | { readonly kind: 'answer'; readonly bytes: Buffer }
  | { readonly kind: 'tls' }
  | { readonly kind: 'close' }
  | { readonly kind: 'password' }
  | { readonly kind: 'refuse'; readonly bytes: Buffer; readonly why: string };

const STARTUP_PARAMETERS_FORWARDED = ['application_name'] as const;

export class Startup {
  readonly #deps: SessionDeps;
  #socket: Socket;
  #encrypted = false;
  #database: string | null = null;
  #parameters = new Map<string, string>();

  constructor(deps: SessionDeps, socket: Socket) {
    this.#deps = deps;
    this.#socket = socket;
  }

  get database(): string | null {
    return this.#database;
  }

  /** The connection is TLS from here on: `socket` is the TLS socket over the client's connection. */
  encrypted(socket: Socket): void {
    this.#socket = socket;
    this.#encrypted = true;
  }

  /** A startup-phase packet (no type byte). */
  packet(frame: Frame): StartupStep {
    const packet = parseStartup(frame);
    switch (packet.name) {
      case 'sslRequest':
      case 'gssEncRequest':
        if (this.#encrypted) throw new ProtocolViolation(`${packet.name === 'sslRequest' ? 'an SSLRequest' : 'a GSSENCRequest'} on a connection already encrypted`);
        if (packet.name === 'sslRequest' && this.#deps.tls !== undefined) return { kind: 'tls' };
        return { kind: 'answer', bytes: backend.refuseEncryption() };
      case 'cancelRequest':
        this.#deps.cancels.cancel(packet.processId, packet.secretKey);
        return { kind: 'close' };
      case 'startup': {
        if (packet.protocol !== PROTOCOL_V3) throw new ProtocolViolation('only protocol 3.0 is spoken');
        this.#database = packet.parameters.get('database') ?? packet.parameters.get('user') ?? null;
        for (const name of STARTUP_PARAMETERS_FORWARDED) {
          const value = packet.parameters.get(name);
          if (value !== undefined) this.#parameters.set(name, value.slice(0, 63));
        }
        const clear = this.#clearTextRefusal();
        return clear === null ? { kind: 'password' } : { kind: 'refuse', bytes: backend.error('FATAL', '28000', `latchkey: invalid_request: ${clear}`), why: clear.slice(0, 128) };
      }
    }
  }

  /** Why the token may not be asked for on this connection (it would cross it in clear text); null when it may. */
  #clearTextRefusal(): string | null {
    if (this.#encrypted) return null;
    const tls = this.#deps.tls;
    if (tls?.required === true) return 'this gateway requires TLS: connect with sslmode=require (or verify-full)';
    if (isLoopback(this.#socket.remoteAddress)) return null;
    return tls === undefined
      ? 'the token would travel in clear text; connect over loopback (this gateway has no TLS certificate configured: postgres.tls)'
      : 'the token would travel in clear text; connect with sslmode=require (or verify-full), or over loopback';
  }

  /** The PasswordMessage holding the token: the core's stages, then the upstream; a reason when refused. */
  async password(frame: Frame): Promise<Established | { readonly refused: ReasonCode; readonly decision: DecisionContext }> {
    const { plane, clock } = this.#deps;
    const decision = decisionAt(clock, this.#socket.remoteAddress, 'connect');
    decision.resource = (this.#database ?? '').slice(0, 64);
    const refused = (reason: ReasonCode, detail?: string) => {
      if (detail !== undefined) decision.detail = detail;
      return { refused: reason, decision };
    };
    if (frame.type !== 0x70) throw new ProtocolViolation('expected a password message');
    const message = parseFrontend(frame);
    if (message.name !== 'password') throw new ProtocolViolation('expected a password message');
    const service = this.#database === null ? undefined : plane.services.get(this.#database);
    if (service === undefined || service.kind !== 'postgres') return refused('service_unknown');
    decision.service = service;
    const token = message.password;
    if (token === '') return refused('token_missing');
    if (token.length > MAX_TOKEN_LENGTH) return refused('token_malformed');
    const found: Resolution = await plane.core.resolve(token, decision.time);
    if (typeof found === 'string') return refused(found);
    const admitted = plane.core.admit(decision, found);
    if (admitted !== null) return refused(admitted);
    const entry = decision.entry!;
    if (entry.grant === null || !grantsService(entry, service.name)) return refused('permission_denied', `the token grants nothing on ${service.name}`);
    const gated = plane.core.gate(decision);
    if (gated !== null) return refused(gated);
    const limited = await plane.core.limit(decision);
    if (limited !== null) return refused(limited);
    const binding = decision.binding!;
    const endpoint = endpointOf(binding);
    const readOnly = !mayWrite(entry.grant, service.name);
    try {
      const upstream = await connectUpstream({
        target: endpoint.target,
        own: endpoint.own,
        password: binding.credential?.value ?? null,
        parameters: new Map([['client_encoding', 'UTF8'], ...this.#parameters]),
        setup: sessionSetup(readOnly),
        timeoutMs: this.#deps.connectTimeoutMs,
        maxMessageBytes: this.#deps.maxMessageBytes,
      });
      return { token, found, entry, service, binding, decision, upstream };
    } catch (err) {
      const failure = err instanceof UpstreamFailure ? err : null;
      this.#deps.logger.warn({ service: service.name, env: binding.env, err: (err as Error).message }, 'postgres upstream unavailable');
      return refused(failure?.kind === 'timeout' ? 'upstream_timeout' : 'upstream_unreachable');
    }
  }
}

/**
 * What every session runs first: `search_path` pinned (unqualified names are
 * `public`'s, temporary tables never shadow them; the analyzer refuses changing
 * it), and for a token that grants no write, a read-only session (the
 * analyzer refuses changing that too).
 */
export function sessionSetup(readOnly: boolean): string {
  const pin = 'SET search_path TO public, pg_temp';
  return readOnly ? `${pin}; SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY` : pin;
}

function grantsService(entry: TokenEntry, service: string): boolean {
  return entry.grant!.permissions.some((p) => p.effect === 'allow' && p.service === service);
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  if (address === '::1') return true;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return isIP(v4) === 4 && v4.startsWith('127.');
}
