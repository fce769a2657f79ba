import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from '../logging/logger.js';
import type { Principal } from '../policy/principal.js';

/** What the server knows about the request being served; reachable from any layer. */
export interface RequestContext {
  readonly requestId: string;
  readonly logger: Logger;
  /** Who is calling. Anonymous until the SMART layer authenticates callers. */
  principal: Principal;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runWithContext<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}
