/**
 * The websocket channel (server side, over @fastify/websocket / ws):
 * - R4 (Subscription page, "websockets"): the client sends `bind <id>`; each
 *   notification is the text `ping <id>`. The socket must have been opened
 *   with the bearer token of the subscription's owner (non-browser clients
 *   can send it), or the deployment runs without authentication.
 * - Backport IG: the client sends `bind-with-token <token>` (from
 *   $get-ws-binding-token); the server answers with one handshake Bundle per
 *   subscription bound, then sends notification Bundles (JSON text).
 * Anything else gets an `error <reason>` line. The hub only tracks who is
 * bound where; the delivery worker decides what is sent.
 */
import type { WebSocket } from 'ws';
import type { Principal } from '../identity/principal.js';
import type { BindingTokens } from './binding-tokens.js';

export interface BindRequest {
  subscriptionId: string;
  /** How it was bound: the R4 binding gets pings, the Backport binding Bundles. */
  style: 'r4' | 'backport';
  /** The principal the socket authenticated as (R4 bind), if any. */
  principal?: Principal;
}

export interface HubEvents {
  /** Whether this binding may go ahead (the subscription exists, is a websocket one, and belongs to the caller). */
  mayBind(request: BindRequest): Promise<string | undefined>;
  /** A socket was bound: the worker sends the handshake and whatever waits. */
  bound(subscriptionId: string): void;
}

export class WebsocketHub {
  private readonly sockets = new Map<string, Set<{ socket: WebSocket; style: 'r4' | 'backport' }>>();
  events?: HubEvents;

  constructor(private readonly tokens: BindingTokens) {}

  /** Subscriptions that have at least one socket bound in this process. */
  boundSubscriptions(): string[] {
    return [...this.sockets].filter(([, set]) => set.size > 0).map(([id]) => id);
  }

  isBound(subscriptionId: string): boolean {
    return (this.sockets.get(subscriptionId)?.size ?? 0) > 0;
  }

  /** Sends to every socket bound to the subscription; false when none is. `ping` for R4 bindings, `bundle` for Backport ones. */
  send(subscriptionId: string, message: { ping: string; bundle?: string }): boolean {
    const set = this.sockets.get(subscriptionId);
    if (!set || set.size === 0) return false;
    let sent = false;
    for (const { socket, style } of set) {
      const text = style === 'r4' ? message.ping : message.bundle;
      if (text === undefined || socket.readyState !== socket.OPEN) continue;
      socket.send(text);
      sent = true;
    }
    return sent;
  }

  /** Serves one connection; `principal`: who opened it (bearer token on the upgrade request), if anyone. */
  accept(socket: WebSocket, principal: Principal | undefined): void {
    const mine = new Set<string>();
    socket.on('message', (data) => {
      const text = data.toString('utf8').trim();
      void this.command(socket, text, principal, mine).catch(() => socket.send('error internal error'));
    });
    socket.on('close', () => {
      for (const id of mine) {
        const set = this.sockets.get(id);
        if (!set) continue;
        for (const entry of set) if (entry.socket === socket) set.delete(entry);
      }
    });
  }

  private async command(socket: WebSocket, text: string, principal: Principal | undefined, mine: Set<string>): Promise<void> {
    const [verb, argument] = text.split(/\s+/, 2);
    let requests: BindRequest[];
    if (verb === 'bind' && argument) {
      requests = [{ subscriptionId: argument, style: 'r4', ...(principal ? { principal } : {}) }];
    } else if (verb === 'bind-with-token' && argument) {
      const grant = this.tokens.verify(argument);
      if (!grant) {
        socket.send('error invalid or expired binding token');
        return;
      }
      requests = grant.subscriptions.map((subscriptionId) => ({ subscriptionId, style: 'backport' }));
    } else {
      socket.send("error expected 'bind <id>' or 'bind-with-token <token>'");
      return;
    }
    for (const request of requests) {
      const refusal = this.events ? await this.events.mayBind(request) : 'not ready';
      if (refusal) {
        socket.send(`error ${request.subscriptionId}: ${refusal}`);
        continue;
      }
      let set = this.sockets.get(request.subscriptionId);
      if (!set) this.sockets.set(request.subscriptionId, (set = new Set()));
      set.add({ socket, style: request.style });
      mine.add(request.subscriptionId);
      if (request.style === 'r4') socket.send(`bound ${request.subscriptionId}`);
      this.events?.bound(request.subscriptionId);
    }
  }
}
