import { ensureInfrastructure } from './infrastructure';

// Runs once before every test file. Workers are spawned afterwards and inherit process.env, so
// AMQP_URL / DATABASE_URL set here (for containers) reach every test.
export default async function globalSetup(): Promise<void> {
  const started = await ensureInfrastructure(process.env);
  (globalThis as { __MCMS_INFRA__?: unknown }).__MCMS_INFRA__ = started;
}
