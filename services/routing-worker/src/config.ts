import { baseServiceConfig, envDurationMs, envPort, parseDurationMs } from '@mcms/platform';
import { z } from 'zod';

/** `1s,5s,30s,2m` → `[1000, 5000, 30000, 120000]`: the waits between a message's attempts. */
function envDurationList(defaultValue: string) {
  return z
    .string()
    .transform((text, ctx) => {
      const delays = text.split(',').map((part) => parseDurationMs(part));
      if (delays.length > 0 && delays.every((ms): ms is number => ms !== undefined && ms > 0)) return delays;
      ctx.issues.push({
        code: 'custom',
        input: text,
        message: 'expected positive durations separated by commas, like 1s,5s,30s,2m',
      });
      return z.NEVER;
    })
    .default(defaultValue.split(',').map((part) => parseDurationMs(part) as number));
}

// Outside production a folder under the working directory stands in for the mounted share.
const DEVELOPMENT_SHARED_DRIVE_ROOT = 'var/shared-drive';

/** The routing-worker's environment; database and JWT settings come through @mcms/db and @mcms/platform. */
export const routingWorkerConfig = z
  .object({
    ...baseServiceConfig,
    PORT: envPort(8081),
    /** Put in front of every exchange and queue name: tests and the benchmark isolate themselves by it. */
    MCMS_TOPOLOGY_PREFIX: z.string().max(100).default(''),
    MCMS_QUEUE_TYPE: z.enum(['quorum', 'classic'], { error: 'expected quorum or classic' }).default('quorum'),
    MCMS_RETRY_DELAYS: envDurationList('1s,5s,30s,2m'),
    /** The mounted shared drive (W:\MCMS): `<root>/<item>/<revision>/Routings/<routingCode>/`. */
    SHARED_DRIVE_ROOT: z.string().min(1).optional(),
    SHARED_DRIVE_TIMEOUT: envDurationMs('5s'),
  })
  .refine((config) => config.NODE_ENV !== 'production' || config.SHARED_DRIVE_ROOT !== undefined, {
    path: ['SHARED_DRIVE_ROOT'],
    message: 'required in production',
    // Checked even when other keys are bad, so one start names every problem.
    when: () => true,
  })
  .transform(({ SHARED_DRIVE_ROOT, ...config }) => ({
    ...config,
    SHARED_DRIVE_ROOT: SHARED_DRIVE_ROOT ?? DEVELOPMENT_SHARED_DRIVE_ROOT,
  }));

export type RoutingWorkerConfig = z.output<typeof routingWorkerConfig>;
