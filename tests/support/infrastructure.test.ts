import { createServer, type Server } from 'node:net';
import { answers, ensureInfrastructure } from './infrastructure';

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer((socket) => socket.end());
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0 });
    });
  });
}

describe('the test infrastructure check', () => {
  it('sees a listening port as answering and a closed one as not', async () => {
    const { server, port } = await listen();
    await expect(answers(`amqp://127.0.0.1:${port}`, 5672)).resolves.toBe(true);
    await new Promise((resolve) => server.close(resolve));
    await expect(answers(`amqp://127.0.0.1:${port}`, 5672)).resolves.toBe(false);
  });

  it('keeps the configured URLs when both services answer', async () => {
    const env: NodeJS.ProcessEnv = {};
    await expect(ensureInfrastructure(env)).resolves.toEqual([]);
    expect(env.AMQP_URL).toMatch(/^amqp:\/\//);
    expect(env.DATABASE_URL).toMatch(/^postgresql:\/\//);
  });

  it('fails fast naming both ways to get a broker and a database when nothing answers and there is no Docker', async () => {
    const { server, port } = await listen();
    await new Promise((resolve) => server.close(resolve));
    const env: NodeJS.ProcessEnv = {
      AMQP_URL: `amqp://127.0.0.1:${port}`,
      DATABASE_URL: process.env.DATABASE_URL,
    };
    await expect(ensureInfrastructure(env, { dockerAvailable: async () => false })).rejects.toThrow(
      /RabbitMQ at 127\.0\.0\.1:\d+ did not answer[\s\S]*rabbitmq-server -detached[\s\S]*Docker engine/,
    );
  });
});
