import type { GenerationStatus, RoutingStatus } from '@mcms/contracts';
import { conflict } from '@mcms/platform';

/** A routing as the rules see it: the stored state, times as Dates. */
export interface Routing {
  id: string;
  routingCode: string;
  itemCode: string;
  revisionCode: string;
  status: RoutingStatus;
  camRevision: string;
  lastAddinJobId: string | null;
  lastGenerationStatus: GenerationStatus | null;
  lastGenerationMessage: string | null;
  lastGeneratedAt: Date | null;
  /** Digest of the last successful generation's outputs (see `outputDigest`); null before the first. */
  lastOutputDigest: string | null;
  /** Ordering key of the last progress event applied to the current job (see `applyJobProgress`). */
  generationProgress: number;
  createdAt: Date;
  updatedAt: Date;
}

export type { GenerationStatus, RoutingStatus };

/** Every routing starts here; the first successful generation makes it 1.1.0. */
export const INITIAL_CAM_REVISION = '1.0.0';

/** What a caller may do with a routing: the names double as the 409's `details.action`. */
export type RoutingAction = 'request-approval' | 'approve' | 'reject' | 'regenerate';

const ALLOWED_FROM: Record<RoutingAction, readonly RoutingStatus[]> = {
  'request-approval': ['Draft', 'Rejected'],
  approve: ['PendingApproval'],
  reject: ['PendingApproval'],
  regenerate: ['Approved'],
};

/** A job is still on its way: a second one would race it on the same folder of the shared drive. */
const RUNNING: readonly (GenerationStatus | null)[] = ['Queued', 'InProgress'];

/** A new Draft routing. */
export function createRouting(
  input: { id: string; routingCode: string; itemCode: string; revisionCode: string },
  now: Date,
): Routing {
  return {
    ...input,
    status: 'Draft',
    camRevision: INITIAL_CAM_REVISION,
    lastAddinJobId: null,
    lastGenerationStatus: null,
    lastGenerationMessage: null,
    lastGeneratedAt: null,
    lastOutputDigest: null,
    generationProgress: 0,
    createdAt: now,
    updatedAt: now,
  };
}

/** Draft or Rejected → PendingApproval. */
export function requestApproval(routing: Routing, now: Date): Routing {
  assertAllowed(routing, 'request-approval');
  return { ...routing, status: 'PendingApproval', updatedAt: now };
}

/** PendingApproval → Approved, with the generation job `jobId` queued. */
export function approve(routing: Routing, { jobId, now }: { jobId: string; now: Date }): Routing {
  assertAllowed(routing, 'approve');
  return queueGeneration({ ...routing, status: 'Approved' }, jobId, now);
}

/** PendingApproval → Rejected. */
export function reject(routing: Routing, now: Date): Routing {
  assertAllowed(routing, 'reject');
  return { ...routing, status: 'Rejected', updatedAt: now };
}

/** A new generation job for an Approved routing whose last job is finished (or that never had one). */
export function regenerate(routing: Routing, { jobId, now }: { jobId: string; now: Date }): Routing {
  assertAllowed(routing, 'regenerate');
  if (RUNNING.includes(routing.lastGenerationStatus)) {
    throw conflict(
      'generation_in_progress',
      `routing ${routing.id} already has job ${routing.lastAddinJobId} ${routing.lastGenerationStatus}`,
      { status: routing.status, lastGenerationStatus: routing.lastGenerationStatus, action: 'regenerate' },
    );
  }
  return queueGeneration(routing, jobId, now);
}

function queueGeneration(routing: Routing, jobId: string, now: Date): Routing {
  return {
    ...routing,
    lastAddinJobId: jobId,
    lastGenerationStatus: 'Queued',
    lastGenerationMessage: null,
    generationProgress: 0,
    updatedAt: now,
  };
}

function assertAllowed(routing: Routing, action: RoutingAction): void {
  const allowed = ALLOWED_FROM[action];
  if (!allowed.includes(routing.status)) {
    throw conflict(
      'invalid_routing_transition',
      `routing ${routing.id} is ${routing.status}; ${action} needs ${allowed.join(' or ')}`,
      { status: routing.status, action },
    );
  }
}

/**
 * The folder of a routing's files on the shared drive, relative to its root, as path segments:
 * `<itemCode>/<revisionCode>/Routings/<routingCode>`. Codes are validated as folder-safe names.
 */
export function routingFolder(routing: Pick<Routing, 'itemCode' | 'revisionCode' | 'routingCode'>): string[] {
  return [routing.itemCode, routing.revisionCode, 'Routings', routing.routingCode];
}

/** The ESPRIT parameters of a generation job: what the add-in needs to open and place the program. */
export function generationParameters(routing: Routing): Record<string, string> {
  return {
    routingId: routing.id,
    routingCode: routing.routingCode,
    itemCode: routing.itemCode,
    revisionCode: routing.revisionCode,
    camRevision: routing.camRevision,
    outputFolder: routingFolder(routing).join('/'),
  };
}
