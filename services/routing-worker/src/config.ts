import {
  baseServiceConfig,
  brokerServiceConfig,
  envDurationMs,
  envPort,
  httpSecurityConfig,
} from '@mcms/platform';
import { z } from 'zod';

// Outside production a folder under the working directory stands in for the mounted share.
const DEVELOPMENT_SHARED_DRIVE_ROOT = 'var/shared-drive';

/** The routing-worker's environment; database and JWT settings come through @mcms/db and @mcms/platform. */
export const routingWorkerConfig = z
  .object({
    ...baseServiceConfig,
    PORT: envPort(8081),
    ...brokerServiceConfig,
    ...httpSecurityConfig,
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
