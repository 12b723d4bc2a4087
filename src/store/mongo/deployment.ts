/**
 * What the MongoDB deployment behind MONGODB_URI offers, found out at start
 * (never assumed): a replica set or a sharded cluster with sessions supports
 * multi-document transactions; a standalone server (or a wire-protocol
 * emulation such as mongo-java-server, which CI uses) does not.
 */
import type { Db } from 'mongodb';

export interface DeploymentFacts {
  topology: 'replica-set' | 'sharded' | 'standalone';
  /** Replica set name when there is one. */
  setName?: string;
  maxWireVersion: number;
  /** The server announces logical sessions (needed for transactions). */
  sessions: boolean;
  /** Multi-document transactions are available. */
  transactions: boolean;
  /** The server answered `hello` (MongoDB 4.4+) rather than only the legacy `isMaster`. */
  hello: boolean;
  version?: string;
}

interface HelloReply {
  setName?: string;
  msg?: string;
  maxWireVersion?: number;
  logicalSessionTimeoutMinutes?: number | null;
}

export async function probeDeployment(db: Db): Promise<DeploymentFacts> {
  const admin = db.admin();
  let reply: HelloReply;
  let hello = true;
  try {
    reply = (await admin.command({ hello: 1 })) as HelloReply;
  } catch {
    // Servers older than 4.4 (and some emulations) only know the legacy command.
    hello = false;
    reply = (await admin.command({ isMaster: 1 })) as HelloReply;
  }
  const version = await admin
    .command({ buildInfo: 1 })
    .then((info) => String((info as { version?: unknown }).version ?? ''))
    .catch(() => undefined);
  const maxWireVersion = reply.maxWireVersion ?? 0;
  const sessions = reply.logicalSessionTimeoutMinutes !== undefined && reply.logicalSessionTimeoutMinutes !== null;
  const topology = reply.setName ? 'replica-set' : reply.msg === 'isdbgrid' ? 'sharded' : 'standalone';
  // Transactions: replica sets from wire version 7 (MongoDB 4.0), sharded clusters from 8 (4.2).
  const transactions =
    sessions && ((topology === 'replica-set' && maxWireVersion >= 7) || (topology === 'sharded' && maxWireVersion >= 8));
  return {
    topology,
    ...(reply.setName ? { setName: reply.setName } : {}),
    maxWireVersion,
    sessions,
    transactions,
    hello,
    ...(version ? { version } : {}),
  };
}
