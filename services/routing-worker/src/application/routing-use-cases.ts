import {
  createMessage,
  EspritGenerationCommand,
  RoutingApprovalRequested,
  RoutingApproved,
  RoutingCreated,
  RoutingRejected,
  type MessageDefinition,
  type PayloadOf,
} from '@mcms/contracts';
import { createBatcher, outgoing, type OutgoingMessage } from '@mcms/messaging';
import { notFound } from '@mcms/platform';
import * as rules from '../domain/routing';
import type { Routing } from '../domain/routing';
import type { RoutingPage, RoutingQuery, RoutingStore } from './ports';

/** Who asks, and the flow the request belongs to (its correlation id becomes the messages'). */
export interface Caller {
  name: string;
  correlationId: string;
}

/** Time and ids come from outside, so tests can pin them. */
export interface RoutingUseCaseDeps {
  store: RoutingStore;
  clock: () => Date;
  newId: () => string;
}

/** One change of a routing by the API: the rule that makes the new routing, and the messages it announces. */
interface Change {
  id: string;
  apply: (routing: Routing, now: Date) => Routing;
  announce: (routing: Routing, now: Date) => OutgoingMessage[];
}

/** What became of one change of a batch: the routing it made, or its own failure. */
type ChangeOutcome = { routing: Routing } | { failed: unknown };

/** Changes one transaction applies at most, and change transactions at once. */
const CHANGE_BATCH_MAX = 32;
const CHANGE_BATCHES_AT_ONCE = 2;

/** The routing API's use cases: every state change commits with its outbox messages. */
export interface RoutingUseCases {
  create(
    input: { routingCode: string; itemCode: string; revisionCode: string },
    caller: Caller,
  ): Promise<Routing>;
  get(id: string): Promise<Routing>;
  list(query: RoutingQuery): Promise<RoutingPage>;
  requestApproval(id: string, input: { comment?: string | undefined }, caller: Caller): Promise<Routing>;
  approve(id: string, input: { comment?: string | undefined }, caller: Caller): Promise<Routing>;
  reject(id: string, input: { reason: string }, caller: Caller): Promise<Routing>;
  regenerate(id: string, caller: Caller): Promise<Routing>;
}

export function createRoutingUseCases({ store, clock, newId }: RoutingUseCaseDeps): RoutingUseCases {
  function message<D extends MessageDefinition>(
    definition: D,
    payload: PayloadOf<D>,
    caller: Caller,
    now: Date,
  ) {
    return outgoing(
      definition,
      createMessage(definition, payload, { correlationId: caller.correlationId, occurredAt: now }),
    );
  }

  // The API's changes of routings (request approval, approve, reject, regenerate) that arrive while one batch runs
  // go in the next, one transaction for all of them — the approvals of a busy plant share their round trips and
  // their commit (decision 0022).
  const changing = createBatcher<Change, ChangeOutcome>({
    maxItems: CHANGE_BATCH_MAX,
    maxWaitMs: 0,
    maxConcurrent: CHANGE_BATCHES_AT_ONCE,
    run: async (changes) => {
      try {
        return await applyChanges(changes);
      } catch (err) {
        if (changes.length === 1) return [{ failed: err }];
        // A batch the database refused: each again on its own, so that only what fails alone fails.
        return Promise.all(
          changes.map((one) =>
            applyChanges([one]).then(
              ([outcome]) => outcome as ChangeOutcome,
              (failed: unknown) => ({ failed }),
            ),
          ),
        );
      }
    },
  });

  /**
   * Lock, apply each rule, store, enqueue what each announces: one transaction for the batch, with the outcome
   * of each change as if they had run one after the other in their order. A change its rule refuses (a 409, a
   * routing that does not exist) fails alone and writes nothing; a second change of one routing applies to what
   * the first made of it.
   */
  function applyChanges(changes: readonly Change[]): Promise<ChangeOutcome[]> {
    return store.batchTransaction(async (tx) => {
      const routings = new Map(await tx.lockRoutings([...new Set(changes.map((c) => c.id))]));
      const now = clock();
      const changed = new Set<string>();
      const messages: OutgoingMessage[] = [];
      const outcomes = changes.map((c): ChangeOutcome => {
        try {
          const current = routings.get(c.id);
          if (!current) throw notFound(`routing ${c.id}`);
          const next = c.apply(current, now);
          const announced = c.announce(next, now);
          routings.set(c.id, next);
          changed.add(c.id);
          messages.push(...announced);
          return { routing: next };
        } catch (failed) {
          return { failed };
        }
      });
      await tx.updateRoutings([...changed].map((id) => routings.get(id) as Routing));
      await tx.publish(messages);
      return outcomes;
    });
  }

  async function change(
    id: string,
    apply: (routing: Routing, now: Date) => Routing,
    announce: (routing: Routing, now: Date) => OutgoingMessage[],
  ): Promise<Routing> {
    const outcome = await changing.submit({ id, apply, announce });
    if ('failed' in outcome) throw outcome.failed;
    return outcome.routing;
  }

  function generationCommand(routing: Routing, caller: Caller, now: Date): OutgoingMessage {
    return message(
      EspritGenerationCommand,
      {
        jobId: routing.lastAddinJobId as string,
        routingId: routing.id,
        routingCode: routing.routingCode,
        itemCode: routing.itemCode,
        revisionCode: routing.revisionCode,
        camRevision: routing.camRevision,
        parameters: rules.generationParameters(routing),
        requestedBy: caller.name,
      },
      caller,
      now,
    );
  }

  const ref = (routing: Routing) => ({ routingId: routing.id, routingCode: routing.routingCode });

  return {
    create(input, caller) {
      return store.transaction(async (tx) => {
        const now = clock();
        const routing = rules.createRouting({ id: newId(), ...input }, now);
        await tx.insert(routing);
        await tx.publish([
          message(
            RoutingCreated,
            {
              ...ref(routing),
              itemCode: routing.itemCode,
              revisionCode: routing.revisionCode,
              camRevision: routing.camRevision,
              createdBy: caller.name,
            },
            caller,
            now,
          ),
        ]);
        return routing;
      });
    },

    async get(id) {
      const routing = await store.find(id);
      if (!routing) throw notFound(`routing ${id}`);
      return routing;
    },

    list: (query) => store.list(query),

    requestApproval(id, { comment }, caller) {
      return change(id, rules.requestApproval, (routing, now) => [
        message(
          RoutingApprovalRequested,
          { ...ref(routing), requestedBy: caller.name, comment: comment ?? null },
          caller,
          now,
        ),
      ]);
    },

    approve(id, { comment }, caller) {
      return change(
        id,
        (routing, now) => rules.approve(routing, { jobId: newId(), now }),
        (routing, now) => [
          message(
            RoutingApproved,
            {
              ...ref(routing),
              approvedBy: caller.name,
              comment: comment ?? null,
              jobId: routing.lastAddinJobId as string,
            },
            caller,
            now,
          ),
          generationCommand(routing, caller, now),
        ],
      );
    },

    reject(id, { reason }, caller) {
      return change(id, rules.reject, (routing, now) => [
        message(RoutingRejected, { ...ref(routing), rejectedBy: caller.name, reason }, caller, now),
      ]);
    },

    regenerate(id, caller) {
      return change(
        id,
        (routing, now) => rules.regenerate(routing, { jobId: newId(), now }),
        (routing, now) => [generationCommand(routing, caller, now)],
      );
    },
  };
}
