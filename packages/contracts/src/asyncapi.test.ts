import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Parser } from '@asyncapi/parser';
import { asyncApiJson, generatedDocuments } from './generated-documents';
import { buildAsyncApiDocument } from './asyncapi';
import { messageCatalog, messageName } from './catalog';

const repoRoot = join(__dirname, '..', '..', '..');

describe('the generated contract documents', () => {
  it.each(Object.entries(generatedDocuments()))(
    'is committed exactly as the definitions generate it: %s (run `pnpm docs` when this fails)',
    (path, wanted) => {
      expect(readFileSync(join(repoRoot, path), 'utf8')).toBe(wanted);
    },
  );

  it('is a valid AsyncAPI document with no errors or warnings', async () => {
    const { document, diagnostics } = await new Parser().parse(asyncApiJson());
    expect(diagnostics.map((d) => `${d.code}: ${d.message} at ${d.path.join('.')}`)).toEqual([]);
    expect(document).toBeDefined();
  });

  it('describes every message on its exchange with its type as the routing key', () => {
    const doc = buildAsyncApiDocument({ version: '9.9.9' }) as {
      channels: Record<string, { address: string; bindings: { amqp: { exchange: { name: string } } } }>;
    };
    for (const definition of messageCatalog) {
      const channel = doc.channels[messageName(definition)];
      expect(channel?.address).toBe(definition.type);
      expect(channel?.bindings.amqp.exchange.name).toBe(definition.exchange);
    }
  });
});
