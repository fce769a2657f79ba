import { stopTestServer } from './helpers/server.js';

/** Root hooks: the shared test server is started lazily by the first test that needs it and stopped at the end. */
export const mochaHooks = {
  async afterAll(): Promise<void> {
    await stopTestServer();
  },
};
