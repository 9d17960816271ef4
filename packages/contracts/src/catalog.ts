import { commands } from './commands';
import type { MessageDefinition } from './define-message';
import { events } from './events';

/** Every message the system exchanges, in the order the AsyncAPI document lists them. */
export const messageCatalog: readonly MessageDefinition[] = [...commands, ...events];

const byKey = new Map(messageCatalog.map((d) => [`${d.type}@${d.version}`, d]));

/** The definition of `type` at `version`, or undefined for a message this build does not know. */
export function findDefinition(type: string, version: number): MessageDefinition | undefined {
  return byKey.get(`${type}@${version}`);
}

/** `mcms.addin-job.result` → `McmsAddinJobResult`: the message's name in generated documents. */
export function messageName(definition: Pick<MessageDefinition, 'type'>): string {
  return definition.type
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}
