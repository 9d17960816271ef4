import type { StartedInfrastructure } from './infrastructure';

export default async function globalTeardown(): Promise<void> {
  const started = (globalThis as { __MCMS_INFRA__?: StartedInfrastructure[] }).__MCMS_INFRA__ ?? [];
  await Promise.all(started.map((s) => s.stop()));
}
