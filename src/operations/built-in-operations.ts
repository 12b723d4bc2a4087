/**
 * The one place listing the operations this server offers: each is written in
 * its own file in this folder and registered here.
 */
import type { EngineContext } from '../engine/engine-context.js';
import type { OperationRegistry } from './operation-registry.js';

export function registerBuiltInOperations(registry: OperationRegistry, ctx: EngineContext): void {
  void registry;
  void ctx;
}
