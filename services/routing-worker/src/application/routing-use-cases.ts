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
import { outgoing, type OutgoingMessage } from '@mcms/messaging';
import { notFound } from '@mcms/platform';
import * as rules from '../domain/routing';
import type { Routing } from '../domain/routing';
import type { RoutingPage, RoutingQuery, RoutingStore, RoutingTransaction } from './ports';

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

  /** Lock, apply a rule, store, enqueue what it announces: one transaction. */
  function change(
    id: string,
    apply: (routing: Routing, now: Date) => Routing,
    announce: (routing: Routing, now: Date) => OutgoingMessage[],
  ): Promise<Routing> {
    return store.transaction(async (tx: RoutingTransaction) => {
      const current = await tx.lock(id);
      if (!current) throw notFound(`routing ${id}`);
      const now = clock();
      const next = apply(current, now);
      await tx.update(next);
      await tx.publish(announce(next, now));
      return next;
    });
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
