import type {
  AddinJobExpired,
  NotificationSeverity,
  NotificationType,
  RoutingGenerationCompleted,
  RoutingGenerationFailed,
} from '@mcms/contracts';

/** An alert to store, before the database gives it its id. */
export interface NewAlert {
  /** The messageId of the event it comes from: storing the same event twice stores one alert. */
  eventId: string;
  type: NotificationType;
  severity: NotificationSeverity;
  routingId: string;
  routingCode: string;
  jobId: string;
  message: string;
  createdAt: Date;
}

/** A stored alert: `id` is a bigint that only grows, in the order alerts became visible. */
export interface Alert extends Omit<NewAlert, 'eventId'> {
  id: bigint;
}

/** The events that can raise an alert. */
export type AlertEvent = RoutingGenerationCompleted | RoutingGenerationFailed | AddinJobExpired;

// A stale result belongs to a job the routing has moved past: it changed nothing, so it is worth a
// warning (someone may wonder where that job went) but never a red failure nor a plain success.
const STALE_NOTE = " (stale: a newer job is the routing's latest, the routing was not changed)";

/**
 * The alert an event raises, or `undefined` when it raises none: an expiry that failed the job for
 * good is followed by a `routing.generation.failed`, which raises the one failure alert.
 */
export function alertFromEvent(event: AlertEvent): NewAlert | undefined {
  const base = {
    eventId: event.messageId,
    routingId: event.payload.routingId,
    routingCode: event.payload.routingCode,
    jobId: event.payload.jobId,
  };
  switch (event.type) {
    case 'routing.generation.completed': {
      const { payload } = event;
      const files = `${payload.outputs.length} output file${payload.outputs.length === 1 ? '' : 's'}`;
      return {
        ...base,
        type: 'generation.completed',
        severity: payload.stale ? 'warning' : 'info',
        message:
          `Generation of ${payload.routingCode} completed: CAM revision ` +
          `${payload.previousCamRevision} → ${payload.camRevision}, ${files}` +
          (payload.stale ? STALE_NOTE : ''),
        createdAt: new Date(payload.completedAt),
      };
    }
    case 'routing.generation.failed': {
      const { payload } = event;
      const reason = payload.message.trim() || 'no message from the add-in';
      return {
        ...base,
        type: 'generation.failed',
        severity: payload.stale ? 'warning' : 'error',
        message: `Generation of ${payload.routingCode} failed: ${reason}` + (payload.stale ? STALE_NOTE : ''),
        createdAt: new Date(payload.failedAt),
      };
    }
    case 'addin-job.expired': {
      const { payload } = event;
      if (payload.action !== 'requeued') return undefined;
      return {
        ...base,
        type: 'job.requeued',
        severity: 'warning',
        message:
          `Job for ${payload.routingCode} requeued after attempt ${payload.attempt}: ${payload.reason}` +
          (payload.deviceId ? ` (device ${payload.deviceId})` : ''),
        createdAt: new Date(event.occurredAt),
      };
    }
  }
}

/** Where alerts are kept. `append` answers the stored alert, or `undefined` for an event seen before. */
export interface AlertStore {
  append(alert: NewAlert): Promise<Alert | undefined>;
  /** Alerts with an id above `after` (all when undefined), oldest first, at most `limit`. */
  listAfter(after: bigint | undefined, limit: number): Promise<Alert[]>;
  /** The greatest id stored, 0n when there is none. */
  latestId(): Promise<bigint>;
}
