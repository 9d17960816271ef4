import { z } from 'zod';
import { messageCatalog, messageName } from './catalog';
import type { MessageDefinition } from './define-message';

const AMQP_BINDING_VERSION = '0.3.0';

/** Options for the generated document; defaults describe the product, not a test run. */
export interface AsyncApiOptions {
  version: string;
  definitions?: readonly MessageDefinition[];
}

/**
 * Builds the AsyncAPI 3 document from the message definitions, so the document can never
 * disagree with what producers and consumers validate. Deterministic: same input, same bytes.
 */
export function buildAsyncApiDocument(options: AsyncApiOptions): Record<string, unknown> {
  const definitions = options.definitions ?? messageCatalog;
  const channels: Record<string, unknown> = {};
  const operations: Record<string, unknown> = {};
  const messages: Record<string, unknown> = {};

  for (const definition of definitions) {
    const name = messageName(definition);
    const channelId = name;
    channels[channelId] = {
      address: definition.routingKey,
      title: `${definition.routingKey} on ${definition.exchange}`,
      description: definition.summary,
      messages: { [name]: { $ref: `#/components/messages/${name}` } },
      bindings: {
        amqp: {
          is: 'routingKey',
          exchange: {
            name: definition.exchange,
            type: 'topic',
            durable: true,
            autoDelete: false,
            vhost: '/',
          },
          bindingVersion: AMQP_BINDING_VERSION,
        },
      },
    };
    operations[`send${name}`] = {
      action: 'send',
      title: `Publish ${definition.type}`,
      summary: definition.summary,
      channel: { $ref: `#/channels/${channelId}` },
      messages: [{ $ref: `#/channels/${channelId}/messages/${name}` }],
      bindings: { amqp: { deliveryMode: 2, mandatory: true, bindingVersion: AMQP_BINDING_VERSION } },
    };
    const { $schema: _ignored, ...payload } = z.toJSONSchema(definition.envelope, {
      target: 'draft-2020-12',
      unrepresentable: 'any',
    });
    messages[name] = {
      name,
      title: definition.type,
      summary: definition.summary,
      contentType: 'application/json',
      payload,
      bindings: {
        amqp: {
          messageType: `${definition.type}@${definition.version}`,
          bindingVersion: AMQP_BINDING_VERSION,
        },
      },
    };
  }

  return {
    asyncapi: '3.1.0',
    info: {
      title: 'MCMS add-in integration messages',
      version: options.version,
      description:
        'Commands (exchange mcms.commands) and events (exchange mcms.events) exchanged by addin-gateway, ' +
        'routing-worker, history-service and notification-service. Every message is a JSON envelope ' +
        '{ messageId, type, version, occurredAt, correlationId, causationId, payload }; the routing key is ' +
        'the type. Generated from packages/contracts: do not edit by hand.',
    },
    defaultContentType: 'application/json',
    servers: {
      broker: {
        host: 'rabbitmq:5672',
        protocol: 'amqp',
        protocolVersion: '0-9-1',
        description: 'The plant-local RabbitMQ (cluster) with quorum queues.',
      },
    },
    channels,
    operations,
    components: { messages },
  };
}
